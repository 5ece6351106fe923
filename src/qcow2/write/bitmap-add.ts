/**
 * Adding an empty persistent dirty bitmap (`qemu-img bitmap --add [-g GRANULARITY] [--disable] IMAGE NAME`), as
 * qemu-img leaves it: a bitmap table of all-zero entries (every range clean) and a bitmap directory holding the
 * existing entries and the new one, each in new clusters, then the bitmaps header extension and autoclear bit 0
 * (or, when the image has bitmaps already, the extension's directory size and offset, rewritten in place).
 * Order: the new clusters' refcounts written and synced; the table and the directory written and synced; then the
 * header (write/bitmaps-header.ts: never torn); then the old directory, if any, freed. A cut before the header
 * switch leaves the image as it was, with leaked clusters at most.
 */
import { setU16, setU32, setU64, u16, u32 } from '../format/bytes';
import { BME_FLAG_AUTO, BME_FLAG_IN_USE, MAX_BITMAP_NAME, type BitmapEntry } from '../format/bitmaps';
import { AUTOCLEAR_BITMAPS } from '../format/header';
import type { BitmapsExtension } from '../format/header-extensions';
import { printable, Qcow2Error } from '../errors';
import { readFully } from '../io/ops';
import { planBitmapsExtension, planBitmapsUpdate } from './bitmaps-header';
import type { Qcow2Writer } from './writer';
import type { WritableImage } from './writable-image';

/** QEMU's limits (block/qcow2-bitmap.c): granularity 2^9..2^31, bitmap data at most 512 MiB, 65535 bitmaps. */
const MIN_GRANULARITY_BITS = 9;
const MAX_GRANULARITY_BITS = 31;
const MAX_BITMAP_BYTES = 0x20000000;
const MAX_BITMAPS = 65535;
const BITMAP_TYPE_DIRTY_TRACKING = 1;

export interface BitmapAddOptions {
  /** Bytes per bit; default as QEMU: the cluster size, within 4 KiB..64 KiB. */
  granularity?: number;
  /** Without the auto flag: the bitmap does not track writes (qemu-img bitmap --add --disable). */
  disabled?: boolean;
  /** Marked in use from the start (the device tracks writes in it: write/bitmap-tracking.ts). */
  inUse?: boolean;
}

/** qemu-img's refusals, made before anything is written; returns the granularity. */
export function refuseBitmapAdd(dev: Pick<WritableImage, 'info' | 'path' | 'bitmaps'>, name: string, opts: BitmapAddOptions): number {
  const shown = printable(name, 100);
  const fail = (why: string) => new Qcow2Error('invalid-argument', `Operation add on bitmap ${shown} failed: ${why}`, dev.path);
  const persistent = (why: string) => fail(`Can't make bitmap '${shown}' persistent in '${printable(dev.path, 200)}': ${why}`);
  const g = opts.granularity ?? Math.min(65536, Math.max(4096, dev.info.clusterSize));
  if (!Number.isSafeInteger(g) || g < 2 ** MIN_GRANULARITY_BITS || g > 2 ** MAX_GRANULARITY_BITS || (g & (g - 1)) !== 0)
    throw fail('Granularity must be power of 2 and at least 512');
  if (name === '') throw fail('Bitmap name cannot be empty');
  if (dev.bitmaps.some((b) => b.name === name)) throw fail(`Bitmap already exists: ${shown}`);
  if (dev.info.version < 3) throw persistent('Cannot store dirty bitmaps in qcow2 v2 files');
  if (new TextEncoder().encode(name).length > MAX_BITMAP_NAME) throw persistent(`Name length exceeds maximum (${MAX_BITMAP_NAME} characters)`);
  if (dev.bitmaps.length >= MAX_BITMAPS) throw persistent(`Maximum number of persistent bitmaps is already reached`);
  if (Math.ceil(Math.ceil(dev.info.virtualSize / g) / 8) > MAX_BITMAP_BYTES)
    throw persistent('Too much space will be occupied by the bitmap. Use larger granularity');
  if (dev.info.virtualSize === 0) throw persistent('the disk is empty');
  return g;
}

/** Adds empty persistent bitmap `name`; the caller holds the device's lock with no metadata pending. */
export async function addBitmap(dev: WritableImage, w: Qcow2Writer, name: string, opts: BitmapAddOptions = {}): Promise<BitmapEntry> {
  const granularity = refuseBitmapAdd(dev, name, opts);
  const cs = dev.info.clusterSize;
  const old = dev.header.extensions.bitmaps;
  const cluster = new Uint8Array(cs);
  await readFully(dev.io, cluster, 0);
  // The existing directory (each entry already padded to 8 bytes), kept verbatim in front of the new entry.
  const readDir = new Uint8Array(old ? old.directorySize : 0);
  if (old && (await readFully(dev.io, readDir, old.directoryOffset)) < readDir.length)
    throw new Qcow2Error('bad-image', 'bitmap directory is truncated', dev.path);
  // Only the bytes its entries use: a directory size with slack after the last entry would put the new entry where
  // a reader, walking entry by entry, does not look (found by the fuzzer).
  const oldDir = readDir.subarray(0, usedDirectoryBytes(readDir, old?.nbBitmaps ?? 0));
  const nb = (old?.nbBitmaps ?? 0) + 1;
  const plan = (dirSize: number, dirOffset: number) =>
    (old ? planBitmapsUpdate : planBitmapsExtension)(cluster, dev.header.headerLength, nb, dirSize, dirOffset, dev.path);

  const bitmapBytes = Math.ceil(Math.ceil(dev.info.virtualSize / granularity) / 8);
  const tableSize = Math.ceil(bitmapBytes / cs); // one entry per cluster of bitmap data; 0 = all clean
  const nameBytes = new TextEncoder().encode(name);
  const dir = new Uint8Array(oldDir.length + Math.ceil((24 + nameBytes.length) / 8) * 8);
  dir.set(oldDir);
  const e = oldDir.length; // the new entry
  const entry: BitmapEntry = {
    name,
    tableOffset: 0,
    tableSize,
    flags: (opts.disabled ? 0 : BME_FLAG_AUTO) | (opts.inUse ? BME_FLAG_IN_USE : 0),
    type: BITMAP_TYPE_DIRTY_TRACKING,
    granularityBits: Math.log2(granularity),
    flagNames: [...(opts.inUse ? ['in-use'] : []), ...(opts.disabled ? [] : ['auto'])],
  };
  const tableClusters = Math.ceil((tableSize * 8) / cs);
  const dirClusters = Math.ceil(dir.length / cs);
  // Check the header layout before allocating anything.
  plan(dir.length, cs);

  entry.tableOffset = (await w.alloc.alloc(tableClusters)) * cs;
  const dirOffset = (await w.alloc.alloc(dirClusters)) * cs;
  await w.flush(); // the refcounts first
  setU64(dir, e, entry.tableOffset);
  setU32(dir, e + 8, tableSize);
  setU32(dir, e + 12, entry.flags);
  dir[e + 16] = entry.type;
  dir[e + 17] = entry.granularityBits;
  setU16(dir, e + 18, nameBytes.length);
  setU32(dir, e + 20, 0);
  dir.set(nameBytes, e + 24);
  for (const [at, bytes, what] of [
    [entry.tableOffset, new Uint8Array(tableClusters * cs), 'a bitmap table'],
    [dirOffset, padTo(dir, dirClusters * cs), 'a bitmap directory'],
  ] as const) {
    dev.cache.forgetHostRange(at, bytes.length);
    w.meta.check(at, bytes.length, what);
    await dev.io.writeAt(bytes, at);
    dev.noteFileEnd(at + bytes.length);
  }
  await dev.io.fsync();

  const header = plan(dir.length, dirOffset);
  for (const write of header.writes) {
    await dev.io.writeAt(write.bytes, write.offset);
    await dev.io.fsync();
  }
  const bitmaps: BitmapsExtension = { nbBitmaps: nb, directorySize: dir.length, directoryOffset: dirOffset };
  const ac = dev.header.autoclearFeatures;
  dev.tables.bitmapsAdded([...dev.bitmaps, entry], bitmaps, { hi: ac.hi, lo: (ac.lo | AUTOCLEAR_BITMAPS) >>> 0 }, header.backingFileOffset);
  w.meta.addRange(entry.tableOffset, tableSize * 8, `table of bitmap ${name}`);
  w.meta.addRange(dirOffset, dir.length, 'bitmap directory');
  if (old) {
    // The old directory is freed once nothing points at it.
    w.meta.removeRange(old.directoryOffset, old.directorySize);
    for (let c = old.directoryOffset / cs; c * cs < old.directoryOffset + old.directorySize; c++) w.wb.pendingDecrements.push(c);
    await w.flush();
  }
  return entry;
}

function padTo(b: Uint8Array, n: number): Uint8Array {
  const out = new Uint8Array(n);
  out.set(b);
  return out;
}

/** Bytes taken by the first `count` entries of a bitmap directory (each 24 bytes + extra data + name, padded to 8). */
function usedDirectoryBytes(dir: Uint8Array, count: number): number {
  let pos = 0;
  for (let i = 0; i < count && pos + 24 <= dir.length; i++) {
    const len = 24 + u32(dir, pos + 20) + u16(dir, pos + 18);
    pos = Math.min(dir.length, pos + Math.ceil(len / 8) * 8);
  }
  return pos;
}
