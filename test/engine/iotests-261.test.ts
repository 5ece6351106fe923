/**
 * Ports of qemu-iotests 261 (broken snapshot tables), compared with qemu-img 7.2. Each image is rebuilt at the
 * offsets the iotest computes: info and check refuse it (exit 1) as qemu-img does, and `check -r all` repairs it
 * to the same state qemu-img's repair reaches (same stdout, exit code, double check and `info` afterwards).
 */
import { strict as assert } from 'node:assert';
import { readFileSync, truncateSync } from 'node:fs';
import { cli, qemuImg, scratchDir } from '../helpers/qemu';
import { be32, both, copies, patch } from './iotests-support';
import { allocateInRefblock0, BIG_ENTRY, bigEntryHead, MiB, tableTooBig, tooManySnapshots, tooMuchExtraData, v2Template } from './iotests-261-images';

interface Case {
  name: string;
  build(path: string): void;
  /** qemu-img info/check refuse the damaged image (exit 1). */
  refused: boolean;
  /** Snapshots left after the repair, when the case says. */
  remain?: number;
  /** qemu-img takes ~15 s per open here (65536 snapshots): its own "Double checking" stands for the re-check. */
  slowInQemu?: boolean;
}

const CASES: Case[] = [
  {
    name: 'iotest 261: repair botched v3 (entries with less than 16 bytes of extra data)',
    refused: false,
    build: (p) => {
      v2Template(p);
      patch(p, 4, be32(3));
      patch(p, 100, be32(0x68));
      patch(p, 96, be32(4));
    },
  },
  {
    name: 'iotest 261: reject too much unknown extra data (64 KiB in entry 3)',
    refused: true,
    build: (p) => tooMuchExtraData(p),
  },
  {
    name: 'iotest 261: snapshot table too big (over 64 MiB)',
    refused: true,
    build: (p) => void tableTooBig(p),
  },
  {
    name: 'iotest 261: snapshot table too big with one entry with too much extra data',
    refused: true,
    build: (p) => {
      // As the iotest: the "too big" layout, repaired, then the last three entries rebuilt with one oversized.
      const first = tableTooBig(p);
      qemuImg(['check', '-q', '-r', 'all', p], true);
      const oldOffset = first.end - BIG_ENTRY;
      let offset = first.end - 3 * BIG_ENTRY;
      let count = first.count - 3;
      let written = first.written - 2 * BIG_ENTRY;
      const extra = 64 * MiB + 8 - BIG_ENTRY - (written - 1024);
      patch(p, offset + 36, be32(extra));
      offset += BIG_ENTRY - 1024 + extra;
      written += extra - 1024;
      count++;
      for (let i = 0; i < 2; i++) {
        patch(p, offset, bigEntryHead());
        offset += BIG_ENTRY;
        written += BIG_ENTRY;
        count++;
      }
      truncateSync(p, offset);
      allocateInRefblock0(p, oldOffset, offset);
      patch(p, 60, be32(count));
    },
  },
  {
    name: 'iotest 261: too many snapshots (131072 all-zero v2 entries)',
    refused: true,
    remain: 65536,
    slowInQemu: true,
    build: (p) => tooManySnapshots(p),
  },
];

describe('iotest 261: broken snapshot tables, compared with qemu-img 7.2', function () {
  this.timeout(180_000);
  const dir = scratchDir('q2i-iotests-261-');
  after(() => dir.cleanup());

  CASES.forEach((c, i) => {
    it(c.name, async () => {
      const src = dir.path(`src-${i}.qcow2`);
      c.build(src);
      const info = await both(['info'], src, src, false);
      assert.equal(info.q.code, c.refused ? 1 : 0, `qemu-img info: ${info.q.stderr}`);
      assert.equal(info.o.code, info.q.code, `our info: ${info.o.stderr}`);
      if (c.refused) assert.match(info.o.stderr, /^qcow2-inspector: .*: [^\n]+\n$/, 'one-line error naming the file');

      const [ref, ours] = copies(src, dir.path(`ref-${i}.qcow2`), dir.path(`ours-${i}.qcow2`));
      await both(['check'], ref, ours);
      await both(['check', '--output=json'], ref, ours);
      await both(['check', '-r', 'all'], ref, ours);
      if (!c.slowInQemu) await both(['check'], ref, ours);
      await both(['info', '--output=json'], ref, ours, false).then((r) => {
        assert.equal(r.o.code, r.q.code);
        const q = JSON.parse(r.q.stdout);
        const o = JSON.parse(r.o.stdout);
        assert.deepEqual(o.snapshots, q.snapshots, 'snapshot list after repair');
        // (An icount past 2^53, as the template's "very imp", must print exactly: compare the text too.)
        assert.equal(r.o.stdout.match(/"icount": \d+/g)?.join(), r.q.stdout.match(/"icount": \d+/g)?.join(), 'icount digits');
        if (c.remain) assert.equal((q.snapshots ?? []).length, c.remain);
      });
      assert.equal(readFileSync(ours).readUInt32BE(60), readFileSync(ref).readUInt32BE(60), 'header snapshot count');
      assert.equal(qemuImg(['compare', '-q', ours, ref], true).code, 0, "guest data equals qemu-img's repair");
      const r = await cli(['read', ours, '0', '512']);
      assert.equal(r.code, 0, r.stderr);
    });
  });
});
