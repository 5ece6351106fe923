/**
 * Pending metadata and its ordered write-back (QEMU's crash-safety contract):
 *   1. guest data and refcount increments reach the disk and are synced,
 *   2. then the L2 slices that use them, synced,
 *   3. then the L1 entries that point at new L2 tables, synced,
 *   4. only then are refcount decrements applied and written (a freed cluster is never reused
 *      while an on-disk table may still point at it).
 * After a crash at any point the image can leak clusters but never reference a cluster whose refcount is too low.
 */
import type { MetaSlice } from '../cache/metadata-cache';
import type { WritableImage } from './writable-image';

const L1_CHUNK = 512;

/** What applying a deferred decrement needs (Refcounts.release). */
export interface RefcountRelease {
  release(cluster: number): Promise<void>;
}

export class MetaWriteback {
  readonly dirtyL2 = new Set<MetaSlice>();
  readonly dirtyRefblocks = new Set<MetaSlice>();
  /** 512-byte chunks of the L1 table with changed entries. */
  readonly dirtyL1 = new Set<number>();
  /** Host clusters (indices) to decrement once the table changes that dropped them are on disk. */
  pendingDecrements: number[] = [];
  /** Guest data written to the image file / data file since the last sync. */
  imageDataUnsynced = false;
  dataFileUnsynced = false;
  /** The image file must be at least this long (new clusters written only in part), by the next sync. */
  extendTo = 0;

  constructor(private readonly dev: WritableImage) {}

  get pending(): boolean {
    return this.dirtyL2.size + this.dirtyRefblocks.size + this.dirtyL1.size + this.pendingDecrements.length > 0;
  }

  markL2(slice: MetaSlice): void {
    slice.dirty = true;
    this.dirtyL2.add(slice);
  }

  markRefblock(slice: MetaSlice): void {
    slice.dirty = true;
    this.dirtyRefblocks.add(slice);
  }

  markL1Entry(index: number): void {
    this.dirtyL1.add(Math.floor((index * 8) / L1_CHUNK));
  }

  /** True when dirty slices fill half a cache: time to write back before anything would need evicting. */
  overCacheLimit(): boolean {
    return this.dirtyL2.size * 2 >= this.dev.cache.l2Base || this.dirtyRefblocks.size * 2 >= this.dev.cache.refblockBase;
  }

  /** Writes dirty refcount slices (increments only; decrements are kept apart) and syncs. */
  async writeRefblocks(): Promise<void> {
    await this.extendFile();
    await this.writeSlices(this.dirtyRefblocks);
    await this.syncImage();
  }

  async flush(rc: RefcountRelease): Promise<void> {
    const io = this.dev.io;
    if (this.dataFileUnsynced && this.dev.dataIo) {
      await this.dev.dataIo.fsync();
      this.dataFileUnsynced = false;
    }
    await this.extendFile();
    if (this.dirtyRefblocks.size > 0 || this.imageDataUnsynced) {
      await this.writeSlices(this.dirtyRefblocks);
      await this.syncImage();
    }
    if (this.dirtyL2.size > 0) {
      await this.writeSlices(this.dirtyL2);
      await io.fsync();
    }
    if (this.dirtyL1.size > 0) {
      const l1 = this.dev.l1;
      const base = this.dev.header.l1TableOffset;
      for (const chunk of [...this.dirtyL1].sort((a, b) => a - b)) {
        const start = chunk * L1_CHUNK;
        await io.writeAt(l1.subarray(start, Math.min(l1.length, start + L1_CHUNK)), base + start);
        this.dirtyL1.delete(chunk);
      }
      await io.fsync();
    }
    // Freeing waits for a moment without reads in flight: a read may have looked up the old mapping.
    if (this.pendingDecrements.length > 0 && this.dev.activeReads === 0) {
      // One at a time, so a failure leaves exactly the not-yet-applied ones queued.
      const list = this.pendingDecrements;
      let i = 0;
      try {
        for (; i < list.length; i++) await rc.release(list[i]);
      } finally {
        this.pendingDecrements = list.slice(i);
      }
      await this.writeSlices(this.dirtyRefblocks);
      await io.fsync();
    }
    this.dev.cache.restoreLimits();
  }

  private async extendFile(): Promise<void> {
    const io = this.dev.io;
    if (this.extendTo === 0 || !io.truncate) return;
    if ((await io.size()) < this.extendTo) {
      await io.truncate(this.extendTo);
      this.imageDataUnsynced = true;
    }
    this.extendTo = 0;
  }

  private async syncImage(): Promise<void> {
    await this.dev.io.fsync();
    this.imageDataUnsynced = false;
  }

  private async writeSlices(set: Set<MetaSlice>): Promise<void> {
    const slices = [...set].sort((a, b) => a.offset - b.offset);
    for (const s of slices) {
      await this.dev.io.writeAt(s.data, s.offset);
      s.dirty = false;
      set.delete(s);
    }
  }
}
