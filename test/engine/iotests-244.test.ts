/**
 * Ports of qemu-iotests 244 (qcow2 with an external data file) and its damaged neighbours, compared with
 * qemu-img 7.2: info, map (JSON and text), convert bytes, check, and the state after `-r leaks` and `-r all`.
 * The data file is named by its absolute path (qemu-img resolves a relative one against its working directory).
 */
import { strict as assert } from 'node:assert';
import { readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { cli, qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { be64, both, compareWithQemu, patch, u64At, type CompareOptions } from './iotests-support';
import { printfFixed2 } from '../../src/cli/commands/check';

/** The 244 layout: 0-1M unallocated, 1-2M data, 2-3M discarded, 3-4M zero over discarded, 4-5M zero over data, 5-6M zero. */
const LAYOUT = ['write -P 0x11 1M 4M', 'discard 2M 2M', 'write -z 3M 3M'];

/** Offset of the first L2 table. */
const l2Of = (p: string): number => u64At(p, u64At(p, 40)) & 0x00fffffffffffe00;

interface Case extends CompareOptions {
  name: string;
  build(path: string, data: string): void;
  more?(out: Awaited<ReturnType<typeof compareWithQemu>>, src: string, data: string, work: (name: string) => string): Promise<void> | void;
}

/** A 4 MiB image with 1 MiB of 0x11 at 0 in its data file. */
function oneMiB(p: string, data: string, raw = false): void {
  qemuImg(['create', '-q', '-f', 'qcow2', '-o', `data_file=${data}${raw ? ',data_file_raw=on' : ''}`, p, '4M']);
  qemuIo(p, ['write -P 0x11 0 1M']);
}

/** qemu-img refuses to read (exit 1); so do we, naming the image and the bad entry in one line. */
function refusedLikeQemu(out: Awaited<ReturnType<typeof compareWithQemu>>, src: string, what: RegExp): void {
  for (const step of ['map', 'convert'] as const) {
    assert.equal(out[step].q.code, 1, `qemu-img ${step} fails`);
    assert.equal(out[step].o.code, 1, `our ${step} fails`);
    assert.match(out[step].q.stderr, /Image is corrupt/);
    assert.match(out[step].o.stderr, new RegExp(`^qcow2-inspector: ${src}: L2 entry for guest offset 0x10000 \\(L1 0, L2 1\\) ${what.source}[^\\n]*\\n$`));
  }
}

const CASES: Case[] = [
  {
    name: 'iotest 244: standalone image with an external data file (efficient): unallocated, data, discarded and zero ranges',
    build: (p, data) => {
      qemuImg(['create', '-q', '-f', 'qcow2', '-o', `data_file=${data}`, p, '64M']);
      qemuIo(p, LAYOUT);
    },
    // 32/1024 clusters: qemu-img prints 3.12 % (glibc rounds the tie 3.125 to even).
    more: (out) => assert.match(out.check.o.stdout, /^32\/1024 = 3\.12% allocated, 3\.12% fragmented/m),
  },
  {
    name: 'iotest 244: standalone image with an external data file (valid raw, data_file_raw=on)',
    build: (p, data) => {
      qemuImg(['create', '-q', '-f', 'qcow2', '-o', `data_file=${data},data_file_raw=on`, p, '64M']);
      qemuIo(p, LAYOUT);
    },
    more: (_out, _src, data, work) => {
      // Zero ranges are zeroed in the raw data file too, so the raw file reads as the guest disk (our convert).
      assert.equal(qemuImg(['compare', '-q', '-f', 'raw', '-F', 'raw', data, work('o.raw')], true).code, 0);
    },
  },
  {
    name: 'iotest 244: block status at offset 0 of the data file (map text names the data file)',
    build: (p, data) => oneMiB(p, data),
    more: async (_out, src, data) => {
      const r = await both(['map'], src, src);
      assert.ok(r.o.stdout.includes(`0               0x100000        0               ${data}\n`), r.o.stdout);
    },
  },
  {
    name: 'iotest 244 neighbour: a compressed L2 entry in an image with an external data file',
    differ: ['map', 'convert'],
    build: (p, data) => {
      oneMiB(p, data);
      patch(p, l2Of(p) + 8, be64(0x4000000000010000n));
    },
    more: (out, src) => refusedLikeQemu(out, src, /is compressed/),
  },
  {
    name: 'iotest 244 neighbour: an L2 entry pointing away from its guest offset (data_file_raw=on)',
    differ: ['map', 'convert'],
    build: (p, data) => {
      oneMiB(p, data, true);
      patch(p, l2Of(p) + 8, be64(0x8000000000050000n));
    },
    more: (out, src) => refusedLikeQemu(out, src, /points to data file offset 0x50000/),
  },
  {
    name: 'iotest 244 neighbour: an L2 entry pointing away from its guest offset (not raw)',
    differ: ['map', 'convert'],
    build: (p, data) => {
      oneMiB(p, data);
      patch(p, l2Of(p) + 8, be64(0x8000000000050000n));
    },
    more: async (out, src) => {
      refusedLikeQemu(out, src, /points to data file offset 0x50000/);
      // Writes there are refused too (they would land at the wrong place of the data file).
      const before = readFileSync(src);
      const bytes = `${src}.bytes`;
      writeFileSync(bytes, Buffer.alloc(512, 0x5a));
      const w = await cli(['write', src, '65536', bytes]);
      assert.equal(w.code, 1);
      assert.match(w.stderr, /points to data file offset 0x50000/);
      assert.ok(readFileSync(src).equals(before), 'image unchanged');
    },
  },
  {
    name: 'iotest 244 neighbour: the data file truncated to 512 KiB (reads past its end are zeros)',
    build: (p, data) => {
      oneMiB(p, data);
      truncateSync(data, 512 * 1024);
    },
    more: (out) => assert.equal(out.convert.q.code, 0),
  },
];

describe('iotest 244: external data files, compared with qemu-img 7.2', function () {
  this.timeout(60_000);
  const dir = scratchDir('q2i-iotests-244-');
  after(() => dir.cleanup());

  CASES.forEach((c, i) => {
    it(c.name, async () => {
      const src = dir.path(`src-${i}.qcow2`);
      const data = dir.path(`src-${i}.data`);
      c.build(src, data);
      const work = (n: string): string => dir.path(`${i}-${n}`);
      const out = await compareWithQemu(src, work, c);
      await c.more?.(out, src, data, work);
    });
  });

  it('iotest 244: an internal snapshot of an image with an external data file is refused, file unchanged', async () => {
    const src = dir.path('snap.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', `data_file=${dir.path('snap.data')}`, src, '4M']);
    const before = readFileSync(src);
    const q = qemuImg(['snapshot', '-c', 'test', src], true);
    assert.equal(q.code, 1);
    assert.match(q.stderr, /Could not create snapshot 'test': -95 \(Operation not supported\)/);
    const o = await cli(['snapshot', '-c', 'test', src]);
    assert.equal(o.code, 1);
    assert.match(
      o.stderr,
      /^qcow2-inspector: .*: Could not create snapshot 'test': Operation not supported \(internal snapshots cannot be made in an image with an external data file\)\n$/,
    );
    assert.ok(readFileSync(src).equals(before));
  });

  it('check percentages round exact ties to even, as glibc printf', () => {
    assert.deepEqual([3.125, 3.375, 0.625, 1.005, 12.5, 100].map(printfFixed2), ['3.12', '3.38', '0.62', '1.00', '12.50', '100.00']);
  });
});
