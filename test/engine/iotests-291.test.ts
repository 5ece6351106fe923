/**
 * Ports of qemu-iotests 291 (qemu-img bitmap handling; since QEMU 6.1 tests/qemu-img-bitmaps) and damaged-bitmap
 * neighbours, compared with qemu-img 7.2: info, map, convert bytes, check, and the state after `-r leaks` and
 * `-r all` (including the bitmap list `info` shows afterwards).
 */
import { strict as assert } from 'node:assert';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { cli, qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { be64, both, compareWithQemu, patch, u64At, type CompareOptions } from './iotests-support';

/** The bitmap directory's offset, from the bitmaps header extension (type 0x23852875). */
function bitmapDirectory(p: string): number {
  const b = readFileSync(p);
  for (let at = b.readUInt32BE(100); at + 8 <= b.length;) {
    const type = b.readUInt32BE(at);
    const len = b.readUInt32BE(at + 4);
    if (type === 0) break;
    if (type === 0x23852875) return Number(b.readBigUInt64BE(at + 24));
    at += 8 + Math.ceil(len / 8) * 8;
  }
  throw new Error(`${p}: no bitmaps extension`);
}

/** A 10 MiB image with one auto bitmap b0 and 1 MiB written at 1 MiB (so b0 has a data cluster). */
function withBitmap(p: string): void {
  qemuImg(['create', '-q', '-f', 'qcow2', p, '10M']);
  qemuImg(['bitmap', '--add', p, 'b0']);
  qemuIo(p, ['write 1M 1M']);
}

interface Case extends CompareOptions {
  name: string;
  build(path: string): void;
  more?(out: Awaited<ReturnType<typeof compareWithQemu>>, src: string, work: (n: string) => string): Promise<void> | void;
}

/** The bitmap list after `-r all` by each tool. */
async function bitmapsAfterRepair(work: (n: string) => string): Promise<void> {
  const list = (s: string): unknown => JSON.parse(s)['format-specific'].data.bitmaps;
  const r = await both(['info', '--output=json'], work('ref-all.qcow2'), work('ours-all.qcow2'), false);
  assert.deepEqual(list(r.o.stdout), list(r.q.stdout), 'bitmaps after -r all');
}

/** qemu-img refuses to open an image with a bitmap directory entry breaking its constraints; we open it. */
async function opensWhereQemuRefuses(out: Awaited<ReturnType<typeof compareWithQemu>>, src: string, work: (n: string) => string): Promise<void> {
  assert.equal(out.info.q.code, 1);
  assert.match(out.info.q.stderr, /Bitmap 'b0' doesn't satisfy the constraints/);
  assert.equal(out.info.o.code, 0, out.info.o.stderr);
  // Our convert reads the disk as qemu-img reads it once told to ignore the bitmaps (autoclear bit cleared).
  const ignored = work('ignored.qcow2');
  copyFileSync(src, ignored);
  patch(ignored, 88, be64(BigInt(u64At(ignored, 88)) & ~1n));
  qemuImg(['convert', '-O', 'raw', ignored, work('ignored.raw')]);
  assert.equal(out.convert.o.code, 0, out.convert.o.stderr);
  assert.ok(readFileSync(work('o.raw')).equals(readFileSync(work('ignored.raw'))), 'the same disk');
  // Our check reports the bitmap (one corruption, exit 2; no repair fixes it) and writes are refused.
  assert.equal(out.check.o.code, 2);
  assert.match(out.check.o.stderr, /^ERROR bitmap 'b0' /m);
  assert.equal(JSON.parse(out.checkJson.o.stdout).corruptions, 1);
  assert.equal(out.all.o.code, 2);
  const bytes = work('bytes');
  writeFileSync(bytes, Buffer.alloc(512, 1));
  const before = readFileSync(src);
  const w = await cli(['write', src, '0', bytes]);
  assert.equal(w.code, 1);
  assert.match(w.stderr, /image is damaged \(bitmap 'b0' .*\); refusing to write/);
  assert.ok(readFileSync(src).equals(before), 'file unchanged');
}

/**
 * A bitmap table that cannot be read: both repairs print the same text and exit 2 (the bad table remains). But
 * qemu-img's close then stores the bitmap anew over a fresh table, silently; ours leaves the bitmap as it found
 * it, still reported (one corruption), rather than write bitmap contents it could not read.
 */
async function badTableKept(out: Awaited<ReturnType<typeof compareWithQemu>>, _src: string, work: (n: string) => string): Promise<void> {
  assert.equal(out.check.q.code, 2);
  for (const mode of ['leaks', 'all']) {
    assert.equal(out[mode].q.code, 2);
    const after = qemuImg(['check', '--output=json', work(`ours-${mode}.qcow2`)], true);
    assert.equal(after.code, 2, `after our -r ${mode}: the bad table is still reported`);
    assert.equal(JSON.parse(after.stdout).corruptions, 1);
    assert.equal(JSON.parse(after.stdout).leaks ?? 0, 0, 'leaks fixed');
  }
  await bitmapsAfterRepair(work);
}

const CONSTRAINT: CompareOptions = { differ: ['info', 'map', 'convert', 'check', 'leaks', 'all'] };

const CASES: Case[] = [
  {
    name: 'iotest 291: bitmaps left in use by a crash (qemu-io abort), then a bitmap added',
    build: (p) => {
      withBitmap(p);
      qemuImg(['bitmap', '--add', '--disable', p, 'b1']);
      // qemu-io marks the bitmaps in use while it has the image open; abort leaves them so.
      spawnSync('qemu-io', ['-c', 'abort', p], { stdio: 'ignore' });
      qemuImg(['bitmap', '--add', p, 'b4']);
    },
    // qemu-img's repair opens the image read-write, and closing it stores the bitmaps again: the directory
    // moves to a new cluster. Ours leaves the directory where it is; both images are then clean.
    stateDiffers: ['leaks', 'all'],
    more: async (out, _src, work) => {
      const flags = JSON.parse(out.info.q.stdout)['format-specific'].data.bitmaps.map((b: { flags: string[] }) => b.flags.join('+'));
      assert.deepEqual(flags, ['in-use+auto', 'in-use', 'auto']);
      for (const mode of ['leaks', 'all']) assert.equal(qemuImg(['check', work(`ours-${mode}.qcow2`)], true).code, 0, `clean after our -r ${mode}`);
      await bitmapsAfterRepair(work);
    },
  },
  {
    name: 'iotest 291 neighbour: autoclear bit cleared by a program lacking bitmap support (bitmaps ignored, their clusters leaked)',
    build: (p) => {
      withBitmap(p);
      patch(p, 88, be64(BigInt(u64At(p, 88)) & ~1n));
    },
    more: async (out, _src, work) => {
      assert.equal(out.check.q.code, 3, 'the bitmaps clusters are leaks');
      await bitmapsAfterRepair(work);
    },
  },
  {
    name: 'iotest 291 neighbour: bitmap table offset past the end of the file',
    build: (p) => {
      withBitmap(p);
      patch(p, bitmapDirectory(p), be64(0x10000000n));
    },
    stateDiffers: ['leaks', 'all'],
    more: badTableKept,
  },
  {
    name: 'iotest 291 neighbour: a bitmap data cluster past the end of the file',
    stateDiffers: ['leaks', 'all'],
    build: (p) => {
      withBitmap(p);
      patch(p, u64At(p, bitmapDirectory(p)), be64(0x10000000n));
    },
    more: badTableKept,
  },
  {
    name: 'iotest 291 neighbour: bitmap with a reserved flag bit set (qemu-img refuses to open the image)',
    ...CONSTRAINT,
    build: (p) => {
      withBitmap(p);
      patch(p, bitmapDirectory(p) + 12, Buffer.from([0, 0, 0, 0x0a]));
    },
    more: opensWhereQemuRefuses,
  },
  {
    name: 'iotest 291 neighbour: bitmap of an unknown type (qemu-img refuses to open the image)',
    ...CONSTRAINT,
    build: (p) => {
      withBitmap(p);
      patch(p, bitmapDirectory(p) + 16, Buffer.from([2]));
    },
    more: opensWhereQemuRefuses,
  },
  {
    name: 'iotest 291 neighbour: bitmap granularity 2^8, below the minimum (qemu-img refuses to open the image)',
    ...CONSTRAINT,
    build: (p) => {
      withBitmap(p);
      patch(p, bitmapDirectory(p) + 17, Buffer.from([8]));
    },
    more: opensWhereQemuRefuses,
  },
];

describe('iotest 291: bitmaps in use, ignored or damaged, compared with qemu-img 7.2', function () {
  this.timeout(60_000);
  const dir = scratchDir('q2i-iotests-291-');
  after(() => dir.cleanup());

  CASES.forEach((c, i) => {
    it(c.name, async () => {
      const src = dir.path(`src-${i}.qcow2`);
      c.build(src);
      const work = (n: string): string => dir.path(`${i}-${n}`);
      const out = await compareWithQemu(src, work, c);
      await c.more?.(out, src, work);
    });
  });

  it('iotest 291: bitmap --add next to an enabled bitmap in use: both add it, with the same bitmaps and flags', async () => {
    const ref = dir.path('add-ref.qcow2');
    withBitmap(ref);
    spawnSync('qemu-io', ['-c', 'abort', ref], { stdio: 'ignore' });
    const ours = dir.path('add-ours.qcow2');
    copyFileSync(ref, ours);
    assert.equal(qemuImg(['bitmap', '--add', '-g', '512k', ref, 'b4'], true).code, 0);
    const o = await cli(['bitmap', '--add', '-g', '512k', ours, 'b4']);
    assert.equal(o.code, 0, o.stderr);
    const bitmaps = (p: string): unknown => JSON.parse(qemuImg(['info', '--output=json', p]).stdout)['format-specific'].data.bitmaps;
    assert.deepEqual(bitmaps(ours), bitmaps(ref));
    assert.equal(qemuImg(['check', ours], true).code, 0);
  });
});
