/**
 * Writes keep enabled persistent dirty bitmaps consistent, as QEMU does (block/qcow2-bitmap.c):
 *   - begin, before the first guest write: every enabled bitmap (auto set, in-use clear, autoclear bit 0 set) is
 *     marked in use in the bitmap directory on disk, synced (write/bitmap-directory.ts), so a crash from then on
 *     leaves it flagged inconsistent, never wrong;
 *   - mark, at each guest write: the bits of every granule the write touches, in memory;
 *   - store, at close (and before a repair): for each bitmap, a data cluster for each cluster of bits a write
 *     touched (the old bits ORed in), and a new table (untouched entries keep their cluster); all their refcounts
 *     written and synced first, then the data and tables, synced; then a new directory with in-use cleared; then
 *     the old tables and the replaced data clusters are freed.
 * Disabled bitmaps and bitmaps already in use (inconsistent: left by a QEMU that stopped) are not touched.
 * Memory: the bits are kept per cluster of bits, only for the clusters a write touched, so at most each tracked
 * bitmap's size (disk size / granularity bits, rounded up to clusters); over MAX_TRACKED_BYTES the first write
 * is refused.
 */
import { BME_FLAG_AUTO, BME_FLAG_IN_USE, type BitmapEntry } from '../format/bitmaps';
import { AUTOCLEAR_BITMAPS, isSet } from '../format/header';
import { setU32, u32 } from '../format/bytes';
import { badImage, printable, Qcow2Error } from '../errors';
import { readFully } from '../io/ops';
import { rewriteBitmapDirectory, type EntryChange, type WriterParts } from './bitmap-directory';
import type { WritableImage } from './writable-image';

/** Memory the bits of all tracked bitmaps may take at most (a 4 TiB disk at 64 KiB granularity takes 8 MiB). */
export const MAX_TRACKED_BYTES = 64 * 1024 * 1024;
const MIN_GRANULARITY_BITS = 9;
const MAX_GRANULARITY_BITS = 31;

interface Tracked {
  name: string;
  granularityBits: number;
  /** The table as on disk when tracking began (entries reused for untouched clusters of bits). */
  table: Uint8Array;
  /** New dirty bits by table entry: one cluster of bits each, LSB first as on disk. */
  touched: Map<number, Uint8Array>;
}

export class BitmapTracking {
  private tracked: Tracked[] = [];
  private active = false;

  constructor(private readonly dev: WritableImage) {}

  /** True when a guest write must first run begin (under the lock). */
  get needsBegin(): boolean {
    return !this.active && enabledBitmaps(this.dev).length > 0;
  }

  /** True while bitmaps are marked in use on disk and tracked here. */
  get isActive(): boolean {
    return this.active;
  }

  /** Marks the enabled bitmaps in use on disk; the caller holds the lock, nothing is pending. */
  async begin(w: WriterParts): Promise<void> {
    if (this.active) return;
    const list = enabledBitmaps(this.dev);
    const cs = this.dev.info.clusterSize;
    this.refuseOverLimit(
      list.map((b) => b.name),
      list.reduce((n, b) => n + b.tableSize * cs, 0),
    );
    const tracked: Tracked[] = [];
    for (const b of list) tracked.push({ name: b.name, granularityBits: b.granularityBits, table: await this.loadTable(b), touched: new Map() });
    if (tracked.length === 0) return;
    {
      const changes = new Map<string, EntryChange>(list.map((b) => [b.name, { flags: b.flags | BME_FLAG_IN_USE }]));
      await rewriteBitmapDirectory(this.dev, w, changes);
      await w.flush(); // frees the old directory
    }
    this.tracked = tracked;
    this.active = true;
  }

  /** Before a bitmap of `granularity` is added while tracking: refused when its bits would pass the limit. */
  refuseAdd(name: string, granularity: number): void {
    const cs = this.dev.info.clusterSize;
    const bytesOf = (g: number) => Math.ceil(Math.ceil(this.dev.info.virtualSize / g) / (cs * 8)) * cs;
    this.refuseOverLimit(
      [...this.tracked.map((t) => t.name), name],
      this.tracked.reduce((n, t) => n + bytesOf(2 ** t.granularityBits), bytesOf(granularity)),
    );
  }

  private refuseOverLimit(names: string[], bytes: number): void {
    if (bytes <= MAX_TRACKED_BYTES) return;
    throw new Qcow2Error(
      'unsupported',
      `tracking writes in the enabled persistent dirty bitmaps (${names.map((n) => `'${printable(n, 100)}'`).join(', ')}) would take ${Math.ceil(bytes / 2 ** 20)} MiB of memory (limit ${MAX_TRACKED_BYTES / 2 ** 20} MiB); disable them or use a larger granularity`,
      this.dev.path,
    );
  }

  /** A bitmap added while tracking (already marked in use on disk, all clean) is tracked too. */
  async adopt(b: BitmapEntry): Promise<void> {
    this.tracked.push({ name: b.name, granularityBits: b.granularityBits, table: await this.loadTable(b), touched: new Map() });
  }

  /** Sets the bits of every granule that [offset, offset + length) touches, in every tracked bitmap. */
  mark(offset: number, length: number): void {
    if (length <= 0) return;
    const bitsPerCluster = this.dev.info.clusterSize * 8;
    for (const t of this.tracked) {
      const g = 2 ** t.granularityBits;
      const first = Math.floor(offset / g);
      const end = Math.floor((offset + length - 1) / g) + 1;
      for (let bit = first; bit < end;) {
        const e = Math.floor(bit / bitsPerCluster);
        const stop = Math.min(end, (e + 1) * bitsPerCluster);
        let bits = t.touched.get(e);
        if (!bits) t.touched.set(e, (bits = new Uint8Array(bitsPerCluster / 8)));
        setBits(bits, bit - e * bitsPerCluster, stop - e * bitsPerCluster);
        bit = stop;
      }
    }
  }

  /** Stores the tracked bitmaps and clears their in-use flags; the caller holds the lock, metadata flushed. */
  async store(w: WriterParts): Promise<void> {
    if (!this.active) return;
    const dev = this.dev;
    const cs = dev.info.clusterSize;
    const changes = new Map<string, EntryChange>();
    const writes: Array<[number, Uint8Array, string]> = [];
    const freed: number[] = [];
    // 1. Every new cluster allocated (refcounts in the cache), then written back and synced.
    for (const t of this.tracked) {
      const table = t.table.slice();
      for (const e of [...t.touched.keys()].sort((a, b) => a - b)) {
        const hi = u32(table, e * 8);
        const lo = u32(table, e * 8 + 4);
        if (lo & 1) continue; // all ones already
        const bits = t.touched.get(e)!;
        const old = entryOffsetOf(hi, lo);
        if (old) {
          const before = new Uint8Array(cs);
          await readFully(dev.io, before, old);
          for (let i = 0; i < cs; i++) bits[i] |= before[i];
          freed.push(old / cs);
        }
        const c = await w.alloc.alloc(1);
        setU32(table, e * 8, Math.floor((c * cs) / 0x1_0000_0000));
        setU32(table, e * 8 + 4, (c * cs) >>> 0);
        writes.push([c * cs, bits, `bitmap ${t.name} data`]);
      }
      const tableClusters = Math.ceil(table.length / cs);
      const at = (await w.alloc.alloc(tableClusters)) * cs;
      const padded = new Uint8Array(tableClusters * cs);
      padded.set(table);
      writes.push([at, padded, `table of bitmap ${t.name}`]);
      const entry = dev.bitmaps.find((b) => b.name === t.name);
      const oldTable = entry?.tableOffset ?? 0;
      for (let c = oldTable / cs; oldTable && c * cs < oldTable + t.table.length; c++) freed.push(c);
      changes.set(t.name, { flags: ((entry?.flags ?? BME_FLAG_AUTO) & ~BME_FLAG_IN_USE) >>> 0, tableOffset: at });
    }
    await w.flush();
    // 2. The data clusters and tables, synced.
    for (const [at, bytes, what] of writes) {
      dev.cache.forgetHostRange(at, bytes.length);
      w.meta.check(at, bytes.length, `the ${what}`);
      await dev.io.writeAt(bytes, at);
      dev.noteFileEnd(at + bytes.length);
    }
    await dev.io.fsync();
    // 3. The directory that names them, with in-use cleared; 4. what the old one named, freed.
    const oldTables = this.tracked.map((t) => dev.bitmaps.find((b) => b.name === t.name)).filter((b): b is BitmapEntry => b !== undefined);
    await rewriteBitmapDirectory(dev, w, changes);
    for (const b of oldTables) w.meta.removeRange(b.tableOffset, b.tableSize * 8);
    for (const t of this.tracked) {
      const b = dev.bitmaps.find((x) => x.name === t.name);
      if (b) w.meta.addRange(b.tableOffset, b.tableSize * 8, `table of bitmap ${b.name}`);
    }
    w.wb.pendingDecrements.push(...freed);
    this.tracked = [];
    this.active = false;
    await w.flush();
  }

  /** Reads and checks a bitmap's table (bounded: its size was checked against the disk size and the limit). */
  private async loadTable(b: BitmapEntry): Promise<Uint8Array> {
    const dev = this.dev;
    const cs = dev.info.clusterSize;
    const fail = (why: string) => badImage(dev.path, `bitmap '${printable(b.name, 100)}' ${why}; cannot track writes in it`);
    if (b.granularityBits < MIN_GRANULARITY_BITS || b.granularityBits > MAX_GRANULARITY_BITS) throw fail(`has an invalid granularity (2^${b.granularityBits})`);
    const need = Math.ceil(Math.ceil(dev.info.virtualSize / 2 ** b.granularityBits) / (cs * 8));
    if (b.tableSize !== need) throw fail(`table has ${b.tableSize} entries where the disk size needs ${need}`);
    if (b.tableOffset % cs !== 0 || b.tableOffset + b.tableSize * 8 > dev.fileSize) throw fail('table lies beyond the end of the file');
    const table = new Uint8Array(b.tableSize * 8);
    if ((await readFully(dev.io, table, b.tableOffset)) < table.length) throw fail('table is truncated');
    for (let e = 0; e < b.tableSize; e++) {
      const hi = u32(table, e * 8);
      const lo = u32(table, e * 8 + 4);
      const off = entryOffsetOf(hi, lo);
      if (hi & 0xff00_0000 || lo & 0x1fe || (off && (lo & 1 || off % cs !== 0 || off + cs > dev.fileSize))) throw fail(`table entry ${e} is invalid`);
    }
    return table;
  }
}

/** The bitmaps a write must mark: enabled, not in use, with the bitmaps extension consistent. */
export function enabledBitmaps(dev: Pick<WritableImage, 'header' | 'bitmaps'>): BitmapEntry[] {
  if (!isSet(dev.header.autoclearFeatures, AUTOCLEAR_BITMAPS)) return [];
  return dev.bitmaps.filter((b) => (b.flags & BME_FLAG_AUTO) !== 0 && (b.flags & BME_FLAG_IN_USE) === 0);
}

function entryOffsetOf(hi: number, lo: number): number {
  return (hi & 0x00ff_ffff) * 0x1_0000_0000 + (lo & 0xffff_fe00);
}

/** Sets bits [from, to) (LSB first in each byte). */
function setBits(b: Uint8Array, from: number, to: number): void {
  let i = from;
  for (; i < to && i & 7; i++) b[i >> 3] |= 1 << (i & 7);
  const fullEnd = to - (to & 7);
  if (i < fullEnd) {
    b.fill(0xff, i >> 3, fullEnd >> 3);
    i = fullEnd;
  }
  for (; i < to; i++) b[i >> 3] |= 1 << (i & 7);
}
