/**
 * Ports of qemu-iotests 138 (general qcow2 check) and its neighbours on compressed clusters, compared with
 * qemu-img 7.2: info and map JSON, convert bytes, check text, JSON and detail lines (stderr), and the state after
 * `-r leaks` and `-r all`. The detail lines include qemu-img's "Leaked cluster …" / "ERROR cluster …" lines of the
 * first comparison before the "Repairing …" lines, in cluster order.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { be64, both, compareWithQemu, copies, detailLines, patch, u64At, type CompareOptions } from './iotests-support';

const be16 = (v: number): Buffer => Buffer.from([v >> 8, v & 255]);

/** Offset of the first refcount block, and of the first L2 table. */
function layout(p: string): { refblock: number; l1: number; l2: number } {
  const refblock = u64At(p, u64At(p, 48));
  const l1 = u64At(p, 40);
  return { refblock, l1, l2: u64At(p, l1) & 0x00fffffffffffe00 };
}

/** A 1 MiB image with three compressed clusters packed into one host cluster (refcount 3). */
function threeCompressed(p: string): void {
  qemuImg(['create', '-q', '-f', 'qcow2', p, '1M']);
  qemuIo(p, ['write -c -P 0x11 0 64k', 'write -c -P 0x22 64k 64k', 'write -c -P 0x33 128k 64k']);
}

/** The host cluster holding the compressed data of the first L2 entry (62 - (16 - 8) = 54 offset bits). */
function compressedCluster(p: string): number {
  const entry = readFileSync(p).readBigUInt64BE(layout(p).l2);
  return Number(entry & ((1n << 54n) - 1n)) >> 16;
}

interface Case extends CompareOptions {
  name: string;
  build(path: string): void;
  /** Further assertions on the case's outputs. */
  more?(out: Awaited<ReturnType<typeof compareWithQemu>>, src: string): void;
}

const CASES: Case[] = [
  {
    name: 'iotest 138: an L2 entry at 32 PB (a multiple of 2^32 512-byte clusters)',
    stderr: true,
    build: (p) => {
      qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=512', p, '512']);
      qemuIo(p, ['write 0 512']);
      // The second entry of the L2 table (at 2048 in this layout), as the iotest pokes it.
      assert.equal(layout(p).l2, 2048);
      patch(p, 2048 + 8, be64(0x0080000000000000n));
    },
    more: (out) => assert.match(out.check.q.stderr, /exceeding the end of the file by one cluster or more: offset 0x80000000000000 size 0x200/),
  },
  {
    name: 'iotest 138: leaks-fixed/corruptions-fixed report (header refcount 2, COPIED dropped from the L1 entry)',
    stderr: true,
    build: (p) => {
      qemuImg(['create', '-q', '-f', 'qcow2', p, '64k']);
      qemuIo(p, ['write 0 64k']);
      const { refblock, l1 } = layout(p);
      patch(p, refblock, be16(2));
      patch(p, l1, be64(BigInt(u64At(p, l1)) & ~(1n << 63n)));
    },
    more: (out) => {
      assert.match(out.all.q.stderr, /^Leaked cluster 0 refcount=2 reference=1\nRepairing cluster 0 refcount=2 reference=1\nRepairing OFLAG_COPIED L2 cluster/);
    },
  },
  {
    name: 'iotest 138 neighbour: a host cluster of three compressed clusters with refcount 1',
    stderr: true,
    build: (p) => {
      threeCompressed(p);
      patch(p, layout(p).refblock + 2 * compressedCluster(p), be16(1));
    },
    more: (out) => assert.match(out.check.q.stderr, /ERROR cluster 5 refcount=1 reference=3/),
  },
  {
    name: 'iotest 138 neighbour: a host cluster of three compressed clusters with refcount 5 (leak)',
    stderr: true,
    build: (p) => {
      threeCompressed(p);
      patch(p, layout(p).refblock + 2 * compressedCluster(p), be16(5));
    },
  },
  {
    name: 'iotest 138 neighbour: a compressed L2 entry past the end of the file',
    stderr: true,
    build: (p) => {
      threeCompressed(p);
      patch(p, layout(p).l2 + 16, be64(0x4000000000100000n));
    },
    more: (out, src) => {
      // qemu-img: "error while reading at byte 131072: Input/output error"; ours names the file and the reason.
      assert.equal(out.convert.q.code, 1);
      assert.equal(out.convert.o.stderr, `qcow2-inspector: ${src}: compressed cluster at 0x100000 lies beyond the end of the file\n`);
    },
  },
  {
    name: 'iotest 138 neighbour: a compressed L2 entry overlapping the refcount block (needs a rebuild)',
    stderr: true,
    build: (p) => {
      threeCompressed(p);
      patch(p, layout(p).l2 + 16, be64(0x4000000000000000n | BigInt(layout(p).refblock)));
    },
    more: (out, src) => {
      assert.equal(out.leaks.q.code, 1, 'qemu-img -r leaks cannot rebuild');
      assert.match(out.all.q.stderr, /Rebuilding refcount structure\n/);
      assert.equal(out.convert.o.code, 1);
      assert.match(out.convert.o.stderr, new RegExp(`^qcow2-inspector: ${src}: compressed cluster cannot be decompressed \\([^\\n]+\\)\\n$`));
    },
  },
];

describe('iotest 138: check and repair reports, compared with qemu-img 7.2', function () {
  this.timeout(60_000);
  const dir = scratchDir('q2i-iotests-138-');
  after(() => dir.cleanup());

  CASES.forEach((c, i) => {
    it(c.name, async () => {
      const src = dir.path(`src-${i}.qcow2`);
      c.build(src);
      const out = await compareWithQemu(src, (n) => dir.path(`${i}-${n}`), c);
      c.more?.(out, src);
    });
  });

  it('iotest 138: leaks-fixed/corruptions-fixed report as JSON (-r all --output=json)', async () => {
    const src = dir.path('json.qcow2');
    CASES[1].build(src);
    const [ref, ours] = copies(src, dir.path('json-ref.qcow2'), dir.path('json-ours.qcow2'));
    const r = await both(['check', '-r', 'all', '--output=json'], ref, ours);
    assert.equal(detailLines(r.o.stderr), detailLines(r.q.stderr));
    const j = JSON.parse(r.o.stdout);
    assert.equal(j['leaks-fixed'], 1);
    assert.equal(j['corruptions-fixed'], 1);
  });

  // Task: qemu-img prints the first comparison's "Leaked cluster"/"ERROR cluster" lines, then the repairing
  // comparison's lines in cluster order (a leak and a corruption interleaved), for -r leaks and -r all alike.
  for (const mode of ['leaks', 'all'] as const) {
    it(`leaks and corruptions interleaved: -r ${mode} detail lines and stdout byte for byte`, async () => {
      const src = dir.path(`mixed-${mode}.qcow2`);
      qemuImg(['create', '-q', '-f', 'qcow2', src, '64M']);
      qemuIo(src, ['write 0 64k', 'write 1M 128k', 'write 2M 64k']);
      qemuImg(['snapshot', '-c', 's1', src]);
      const { refblock, l2 } = layout(src);
      const data = (i: number): number => (u64At(src, l2 + 8 * i) & 0x00fffffffffffe00) >> 16;
      // Cluster 0 (header) leaked, the first two data clusters of 1M too low, the last too high.
      const first = data(16);
      for (const [c, v] of [
        [0, 2],
        [first, 1],
        [first + 1, 3],
        [data(32), 1],
      ])
        patch(src, refblock + 2 * c, be16(v));
      const [ref, ours] = copies(src, dir.path(`mixed-${mode}-ref.qcow2`), dir.path(`mixed-${mode}-ours.qcow2`));
      const r = await both(['check', '-r', mode], ref, ours);
      assert.equal(r.o.stderr, r.q.stderr, 'detail lines');
      assert.match(r.q.stderr, /^Leaked cluster 0 refcount=2 reference=1\nERROR cluster \d+ refcount=1 reference=2\nLeaked cluster/);
      await both(['check'], ref, ours);
    });
  }
});
