/**
 * Resource bounds (issue #7): every allocation an image controls is bounded and checked before it is made.
 * Each test builds a small image whose header asks for a large table, opens it through an I/O layer that
 * records the largest single read (the engine allocates exactly what it reads), and asserts that the image is
 * refused with a clear error while nothing larger than the file (or a fixed small bound) was ever requested.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MemIo } from '../../src/qcow2/io/memory';
import { Qcow2Error } from '../../src/qcow2/errors';
import { Qcow2Dev } from '../../src/qcow2/qcow2-dev';
import { openImage, MAX_CHAIN_DEPTH } from '../../src/qcow2/open';
import { MAX_L1_BYTES, MAX_REFTABLE_BYTES, MAX_SNAPSHOTS, MAX_BACKING_NAME } from '../../src/qcow2/format/header';
import { setU32, setU64, u32 } from '../../src/qcow2/format/bytes';
import { compressedWords } from '../../src/qcow2/format/entries';
import { scratchDir } from '../helpers/qemu';
import { qemuImgSync, qemuIoSync } from '../fuzz/malformed-cases';

/** MemIo that remembers the largest single read and the total bytes read. */
class TrackingIo extends MemIo {
  maxRead = 0;
  totalRead = 0;
  override async readAt(buf: Uint8Array, offset: number): Promise<number> {
    this.maxRead = Math.max(this.maxRead, buf.length);
    this.totalRead += buf.length;
    return super.readAt(buf, offset);
  }
}

const scratch = scratchDir('q2i-bounds-');
after(() => scratch.cleanup());

/** A small valid image (4 KiB clusters, 8 KiB of data at 0), as bytes. */
function baseImage(opts = 'cluster_size=4096', size = '1M', io = ['write -q -P 0x5a 0 8k']): Uint8Array {
  const p = scratch.path(`base-${Math.random().toString(36).slice(2)}.qcow2`);
  qemuImgSync(['create', '-q', '-f', 'qcow2', '-o', opts, p, size]);
  if (io.length) qemuIoSync(p, io);
  return new Uint8Array(readFileSync(p));
}

async function openMem(bytes: Uint8Array): Promise<{ err?: Qcow2Error; io: TrackingIo; dev?: Qcow2Dev }> {
  const io = new TrackingIo(bytes, 'mem.qcow2', true);
  try {
    const dev = await Qcow2Dev.fromIo(io, { readOnly: true });
    await dev.prepIo();
    return { io, dev };
  } catch (err) {
    assert.ok(err instanceof Qcow2Error, String(err));
    return { io, err };
  }
}

function assertRefused(r: { err?: Qcow2Error; io: TrackingIo }, reason: RegExp, fileSize: number): void {
  assert.ok(r.err, 'the image was accepted');
  assert.match(r.err.message, /^mem\.qcow2: /);
  assert.match(r.err.reason, reason);
  assert.ok(r.io.maxRead <= Math.max(fileSize, 4096), `read ${r.io.maxRead} bytes at once from a ${fileSize}-byte file`);
}

const l1OffsetOf = (b: Uint8Array) => u32(b, 44);
const l2OffsetOf = (b: Uint8Array) => u32(b, l1OffsetOf(b) + 4) & ~0x1ff;

describe('bounds: tables the header sizes', function () {
  this.timeout(30_000);

  it('an L1 table of exactly the 32 MiB limit in a small file is refused before it is read', async () => {
    const b = baseImage();
    setU32(b, 36, MAX_L1_BYTES / 8);
    assertRefused(await openMem(b), /L1 table lies beyond the end of the file/, b.length);
  });

  it('an L1 table over the limit is refused by size', async () => {
    const b = baseImage();
    setU32(b, 36, MAX_L1_BYTES / 8 + 1);
    assertRefused(await openMem(b), /L1 table is too large \(33554440 bytes, limit 33554432\)/, b.length);
  });

  it('a refcount table of the 8 MiB limit in a small file is refused before it is read', async () => {
    const b = baseImage();
    setU32(b, 56, MAX_REFTABLE_BYTES / 4096);
    assertRefused(await openMem(b), /refcount table lies beyond the end of the file/, b.length);
  });

  it('a refcount table over the limit is refused by size', async () => {
    const b = baseImage();
    setU32(b, 56, MAX_REFTABLE_BYTES / 4096 + 1);
    assertRefused(await openMem(b), /refcount table is too large/, b.length);
  });

  it(`more than ${MAX_SNAPSHOTS} snapshots are refused by count`, async () => {
    const b = baseImage();
    setU32(b, 60, MAX_SNAPSHOTS + 1);
    setU64(b, 64, 4096);
    assertRefused(await openMem(b), /too many snapshots \(65537\)/, b.length);
  });

  it(`${MAX_SNAPSHOTS} snapshots in a small file: the table read never exceeds the file`, async () => {
    const b = baseImage();
    setU32(b, 60, MAX_SNAPSHOTS);
    setU64(b, 64, 4096);
    assertRefused(await openMem(b), /snapshot|L1 table/, b.length);
  });

  it('a snapshot with more than 1 KiB of extra data is refused', async () => {
    const p = scratch.path('snap-extra.qcow2');
    qemuImgSync(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', p, '1M']);
    qemuImgSync(['snapshot', '-c', 's', p]);
    const b = new Uint8Array(readFileSync(p));
    const table = u32(b, 68);
    setU32(b, table + 36, 1025);
    assertRefused(await openMem(b), /snapshot 0 has too much extra data \(1025 bytes\)/, b.length);
  });

  it('a bitmap directory larger than the file is refused before it is read; one over 64 MiB by size', async () => {
    const p = scratch.path('bitmap.qcow2');
    qemuImgSync(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', p, '1M']);
    qemuImgSync(['bitmap', '--add', p, 'b']);
    const b = new Uint8Array(readFileSync(p));
    let at = u32(b, 100);
    while (u32(b, at) !== 0x23852875) at += 8 + Math.ceil(u32(b, at + 4) / 8) * 8;
    setU64(b, at + 8 + 8, 64 * 1024 * 1024);
    assertRefused(await openMem(b), /bitmap directory lies beyond the end of the file/, b.length);
    setU64(b, at + 8 + 8, 64 * 1024 * 1024 + 1);
    assertRefused(await openMem(b), /bitmap directory is too large/, b.length);
    setU64(b, at + 8 + 8, 64);
    setU32(b, at + 8, 0x10000);
    assertRefused(await openMem(b), /invalid bitmap count 65536/, b.length);
  });

  it('a header extension claiming 4 GiB is refused without reading it', async () => {
    const b = baseImage();
    const at = u32(b, 100);
    setU32(b, at, 0x12345678);
    setU32(b, at + 4, 0xffffffff);
    assertRefused(await openMem(b), /header extension 0x12345678 \(4294967295 bytes\) overruns the header cluster/, b.length);
  });

  it(`backing file names: ${MAX_BACKING_NAME} bytes are read, ${MAX_BACKING_NAME + 1} refused`, async () => {
    const b = baseImage('cluster_size=4096');
    const name = 'n'.repeat(MAX_BACKING_NAME);
    b.set(new TextEncoder().encode(name), 2048);
    setU64(b, 8, 2048);
    setU32(b, 16, MAX_BACKING_NAME);
    const ok = await openMem(b);
    assert.equal(ok.err, undefined);
    assert.equal(ok.dev!.header.backingFile, name);
    setU32(b, 16, MAX_BACKING_NAME + 1);
    assertRefused(await openMem(b), /backing file name is too long \(1024 bytes\)/, b.length);
  });

  it('a compressed cluster claiming the largest length the descriptor holds reads at most 2 clusters + 512 bytes', async () => {
    const b = baseImage('cluster_size=4096', '1M', ['write -q -c -P 0x11 0 4k']);
    const l2 = l2OffsetOf(b);
    const cs = 4096;
    // Keep the offset, claim the largest sector count the descriptor can hold.
    const x = 62 - (12 - 8);
    const offset = u32(b, l2 + 4) + (u32(b, l2) & ((1 << (x - 32)) - 1)) * 2 ** 32;
    const [hi, lo] = compressedWords(offset, 2 ** (62 - x) * 512 - (offset & 511), 12);
    setU32(b, l2, hi);
    setU32(b, l2 + 4, lo);
    const io = new TrackingIo(b, 'mem.qcow2', true);
    const dev = await Qcow2Dev.fromIo(io, { readOnly: true });
    await dev.prepIo();
    const run = await dev.blockStatus(0, cs);
    assert.equal(run.kind, 'compressed');
    assert.ok(run.compressed!.length >= 2 * cs - 512, `descriptor length ${run.compressed!.length}`); // the field's maximum
    io.maxRead = 0;
    const buf = new Uint8Array(cs);
    await dev.readAt(buf, 0).catch((err) => assert.ok(err instanceof Qcow2Error, String(err)));
    assert.ok(io.maxRead <= 2 * cs + 512, `read ${io.maxRead} bytes for one compressed cluster`);
  });
});

describe('bounds: the backing chain', function () {
  this.timeout(60_000);

  it(`a chain of ${MAX_CHAIN_DEPTH} backing files opens and reads through; one more is refused`, async () => {
    const names = Array.from({ length: MAX_CHAIN_DEPTH + 2 }, (_, i) => scratch.path(`c${String(i).padStart(2, '0')}.qcow2`));
    const bottom = names[names.length - 1];
    qemuImgSync(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', bottom, '1M']);
    qemuIoSync(bottom, ['write -q -P 0x42 0 512']);
    for (let i = names.length - 2; i >= 0; i--) {
      qemuImgSync(['create', '-q', '-f', 'qcow2', '-u', '-b', names[i + 1], '-F', 'qcow2', '-o', 'cluster_size=4096', names[i], '1M']);
    }
    // names[1] has MAX_CHAIN_DEPTH backing layers under it.
    const dev = await openImage(names[1], { readOnly: true });
    const buf = new Uint8Array(512);
    await dev.readAt(buf, 0);
    assert.equal(buf[0], 0x42);
    const m = await dev.getMapping(0);
    assert.equal(m.depth, MAX_CHAIN_DEPTH);
    await dev.close();
    await assert.rejects(openImage(names[0], { readOnly: true }), (err: Qcow2Error) => {
      assert.ok(err instanceof Qcow2Error);
      assert.match(err.message, /backing chain is deeper than 64 layers/);
      return true;
    });
  });
});
