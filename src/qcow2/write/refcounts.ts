/**
 * Refcount access for the write path: values through the refblock cache, new refcount blocks,
 * and refcount-table growth. Increments mark slices dirty (written back by MetaWriteback);
 * new refblocks and a grown table are written and synced before anything points at them.
 */
import { setU64 } from '../format/bytes';
import { entryWords, reftableOffset } from '../format/entries';
import { badImage, Qcow2Error } from '../errors';
import type { MetaWriteback } from './meta-writeback';
import type { MetadataMap } from './metadata-map';
import type { MetaSlice } from '../cache/metadata-cache';
import type { WritableImage } from './writable-image';
import { getRefcount, maxRefcount, setRefcount, stepRefcount64 } from '../format/refcount-codec';
import { writeReftablePointer } from '../format/header-write';

const MAX_SLICE_BYTES = 64 * 1024;
/** QEMU's limit on the refcount table (block/qcow2.h). */
const MAX_REFTABLE_BYTES = 8 * 1024 * 1024;

/** Where new refcount structures may be placed: at or after the allocation high-water mark. */
export interface EndAllocator {
  /** First cluster index at or after `from` starting `n` clusters that are free; moves the high-water mark past them. */
  takeEnd(n: number): Promise<number>;
  highWater: number;
}

export class Refcounts {
  readonly cs: number;
  readonly bits: number;
  /** Refcount entries per refblock. */
  readonly perBlock: number;
  readonly sliceBytes: number;
  readonly perSlice: number;
  ends!: EndAllocator;
  /** Called when a refcount drops to 0 (the allocator may reuse the cluster). */
  onFreed?: (c: number) => void;

  constructor(
    private readonly dev: WritableImage,
    private readonly wb: MetaWriteback,
    private readonly meta: MetadataMap,
  ) {
    this.cs = dev.info.clusterSize;
    this.bits = dev.info.refcountBits;
    this.perBlock = dev.info.refblockEntries;
    this.sliceBytes = Math.min(this.cs, MAX_SLICE_BYTES);
    this.perSlice = (this.sliceBytes * 8) / this.bits;
  }

  get tableEntries(): number {
    return this.dev.reftable.length / 8;
  }

  /** Offset of refblock `r`, or 0 when it does not exist. */
  blockOffset(r: number): number {
    if (r >= this.tableEntries) return 0;
    const [hi, lo] = entryWords(this.dev.reftable, r * 8);
    const off = reftableOffset(hi, lo);
    if (off === null || off % this.cs !== 0) throw badImage(this.dev.path, `refcount table entry ${r} is invalid`);
    return off;
  }

  /** The cached slice holding cluster `c`'s refcount, or null when its refblock does not exist. */
  async locate(c: number): Promise<{ slice: MetaSlice; index: number } | null> {
    const r = Math.floor(c / this.perBlock);
    const block = this.blockOffset(r);
    if (block === 0) return null;
    const inBlock = c - r * this.perBlock;
    const s = Math.floor(inBlock / this.perSlice);
    const key = block + s * this.sliceBytes;
    const slice = await this.dev.cache.load(this.dev.cache.refblocks, key, this.sliceBytes, () =>
      block + this.cs > this.dev.fileSize ? badImage(this.dev.path, `refcount block at 0x${block.toString(16)} lies beyond the end of the file`) : undefined,
    );
    return { slice, index: inBlock - s * this.perSlice };
  }

  async get(c: number): Promise<number> {
    const at = await this.locate(c);
    return at ? getRefcount(at.slice.data, at.index, this.bits) : 0;
  }

  /** First cluster in [from, to) whose refcount is 0, or `to`. Scans slice by slice. */
  async firstFree(from: number, to: number): Promise<number> {
    let c = from;
    while (c < to) {
      const at = await this.locate(c);
      if (!at) return c;
      const sliceEnd = Math.min(to, c - at.index + this.perSlice);
      for (let i = at.index; c < sliceEnd; c++, i++) if (getRefcount(at.slice.data, i, this.bits) === 0) return c;
    }
    return to;
  }

  /** Adds delta (+1 or -1) to cluster c's refcount, creating its refblock (and growing the table) when needed. */
  async add(c: number, delta: number): Promise<void> {
    let at = await this.locate(c);
    if (!at) {
      if (delta < 0) throw badImage(this.dev.path, `refcount of cluster ${c} would drop below zero`);
      await this.createBlockFor(c);
      at = await this.locate(c);
      if (!at) throw new Error('refcount block creation failed');
    }
    const v = this.bits === 64 ? this.step64(c, at.slice.data, at.index, delta) : getRefcount(at.slice.data, at.index, this.bits) + delta;
    if (v < 0) throw badImage(this.dev.path, `refcount of cluster ${c} would drop below zero`);
    if (this.bits !== 64) {
      if (v > maxRefcount(this.bits)) throw this.overflow(c);
      setRefcount(at.slice.data, at.index, this.bits, v);
    }
    this.wb.markRefblock(at.slice);
    if (v === 0) this.onFreed?.(c);
  }

  /** 64-bit refcounts change byte by byte: exact above 2^53, where a number is not (QEMU allows up to 2^64 - 1). */
  private step64(c: number, block: Uint8Array, index: number, delta: number): number {
    const v = stepRefcount64(block, index, delta > 0 ? 1 : -1);
    if (v === undefined && delta > 0) throw this.overflow(c);
    return v ?? -1;
  }

  private overflow(c: number): Qcow2Error {
    return new Qcow2Error('limit', `refcount of cluster ${c} would overflow ${this.bits}-bit refcounts`, this.dev.path);
  }

  /**
   * Drops one reference to cluster c. A refcount that is already 0 (an image whose refcounts were too low)
   * stays 0: the reference is gone now, so that is consistent, and failing would block every later flush.
   */
  async release(c: number): Promise<void> {
    if ((await this.get(c)) > 0) await this.add(c, -1);
  }

  private async createBlockFor(c: number): Promise<void> {
    const r = Math.floor(c / this.perBlock);
    if (r >= this.tableEntries) return this.growTable(r);
    // A new refblock goes at the end; it counts itself when it lies in the range it covers.
    const p = await this.ends.takeEnd(1);
    const block = new Uint8Array(this.cs);
    if (Math.floor(p / this.perBlock) === r) setRefcount(block, p - r * this.perBlock, this.bits, 1);
    else await this.add(p, 1);
    this.meta.check(p * this.cs, this.cs, 'a new refcount block');
    await this.dev.io.writeAt(block, p * this.cs);
    this.dev.noteFileEnd((p + 1) * this.cs);
    // The new block and its own refcount are on disk before the table points at it.
    await this.wb.writeRefblocks();
    const entry = new Uint8Array(8);
    setU64(entry, 0, p * this.cs);
    await this.dev.io.writeAt(entry, this.dev.header.refcountTableOffset + r * 8);
    await this.dev.io.fsync();
    this.dev.tables.setReftableEntry(r, entry);
    this.meta.addRange(p * this.cs, this.cs, 'refcount block');
  }

  /**
   * Grows the refcount table so it has entry `need`. The new table and the refblocks it needs go at the end
   * of the image: refblocks written and synced, then the table, then the header switches over; the old table
   * is freed with the next metadata flush.
   */
  private async growTable(need: number): Promise<void> {
    const entriesPerCluster = this.cs / 8;
    let entries = Math.max(need + 1, Math.ceil((this.tableEntries * 3) / 2));
    let start = this.ends.highWater;
    let tableClusters: number;
    let newBlocks: number[];
    for (;;) {
      entries = Math.ceil(entries / entriesPerCluster) * entriesPerCluster;
      tableClusters = entries / entriesPerCluster;
      if (tableClusters * this.cs > MAX_REFTABLE_BYTES) {
        throw new Qcow2Error('limit', `refcount table would exceed QEMU's limit of ${MAX_REFTABLE_BYTES} bytes`, this.dev.path);
      }
      // Refblocks needed: the one asked for plus any covering the new clusters themselves.
      let count = 0;
      for (;;) {
        const set = new Set<number>([need]);
        const end = start + tableClusters + count;
        for (let r = Math.floor(start / this.perBlock); r <= Math.floor((end - 1) / this.perBlock); r++) if (this.blockOffset(r) === 0) set.add(r);
        newBlocks = [...set].sort((a, b) => a - b);
        if (newBlocks.length <= count) break;
        count = newBlocks.length;
      }
      const total = tableClusters + newBlocks.length;
      const placed = await this.ends.takeEnd(total);
      if (placed === start && newBlocks[newBlocks.length - 1] < entries) break;
      // The free run starts later than planned (or the table must be larger): lay out again from there.
      // takeEnd only moved the in-memory mark, so nothing is leaked by retrying.
      start = placed;
      entries = Math.max(entries, newBlocks[newBlocks.length - 1] + 1);
      this.ends.highWater = placed;
    }
    const end = start + tableClusters + newBlocks.length;
    const blockAt = new Map<number, number>();
    const blocks = new Map<number, Uint8Array>();
    newBlocks.forEach((r, i) => {
      blockAt.set(r, start + tableClusters + i);
      blocks.set(r, new Uint8Array(this.cs));
    });
    for (let c = start; c < end; c++) {
      const r = Math.floor(c / this.perBlock);
      const block = blocks.get(r);
      if (block) setRefcount(block, c - r * this.perBlock, this.bits, 1);
      else await this.add(c, 1);
    }
    this.meta.check(start * this.cs, (end - start) * this.cs, 'a new refcount table');
    for (const [r, block] of blocks) await this.dev.io.writeAt(block, blockAt.get(r)! * this.cs);
    await this.wb.writeRefblocks();
    const table = new Uint8Array(tableClusters * this.cs);
    table.set(this.dev.reftable);
    for (const [r, at] of blockAt) setU64(table, r * 8, at * this.cs);
    await this.dev.io.writeAt(table, start * this.cs);
    this.dev.noteFileEnd(end * this.cs);
    await this.dev.io.fsync();
    await writeReftablePointer(this.dev.io, start * this.cs, tableClusters);

    const h = this.dev.header;
    const oldOffset = h.refcountTableOffset;
    const oldClusters = h.refcountTableClusters;
    this.dev.tables.switchReftable(table, start * this.cs, tableClusters);
    this.meta.removeRange(oldOffset, oldClusters * this.cs);
    this.meta.addRange(start * this.cs, tableClusters * this.cs, 'refcount table');
    for (const at of blockAt.values()) this.meta.addRange(at * this.cs, this.cs, 'refcount block');
    for (let i = 0; i < oldClusters; i++) this.wb.pendingDecrements.push(oldOffset / this.cs + i);
  }
}
