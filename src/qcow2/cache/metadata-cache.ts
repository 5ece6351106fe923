/**
 * The metadata slice cache: pieces (at most 64 KiB) of L2 tables and refcount blocks, in two bounded LRU caches.
 * Dirty slices (changed by the write path, written back by flushMeta) are never evicted: when every slice is
 * dirty the cache grows until the next flush, then shrinks back (restoreLimits). Concurrent loads of one slice
 * share a single read, and a slice is one object for as long as it is cached, whoever holds it.
 */
import { Qcow2Error, badImage } from '../errors';
import type { Qcow2Info } from '../format/info';
import type { FileEnd } from '../io/file-end';
import { readFully, readFullySync, type Qcow2IoOps } from '../io/ops';
import { LruCache } from './lru';

export const DEFAULT_L2_CACHE_SLICES = 256;
export const DEFAULT_REFBLOCK_CACHE_SLICES = 64;

/** A cached piece of an L2 table or refcount block. `dirty` slices are written back by flushMeta. */
export interface MetaSlice {
  /** Host offset of the slice's first byte. */
  offset: number;
  data: Uint8Array;
  dirty: boolean;
  /** Set when only synchronous code has seen this slice, so its buffer may be reused once it is evicted. */
  recyclable?: boolean;
}

export type SliceCache = LruCache<number, MetaSlice>;

export class MetadataCache {
  readonly l2: SliceCache;
  readonly refblocks: SliceCache;
  /** Capacities as configured; the caches grow past them only while every slice is dirty. */
  readonly l2Base: number;
  readonly refblockBase: number;
  /**
   * False once a writer exists: it holds slices across awaits, so an evicted slice's buffer must never be reused.
   * (Reads alone touch a slice from l2Now only between two awaits.)
   */
  recycleBuffers = true;
  private readonly loading = new Map<number, Promise<MetaSlice>>();
  /** A buffer from an evicted L2 slice, for l2Now to reuse. */
  private spareL2?: Uint8Array;

  constructor(
    private readonly io: Qcow2IoOps,
    private readonly info: Qcow2Info,
    private readonly fileEnd: FileEnd,
    l2Slices: number,
    refblockSlices: number,
  ) {
    this.l2Base = l2Slices;
    this.refblockBase = refblockSlices;
    this.l2 = new LruCache(l2Slices);
    this.refblocks = new LruCache(refblockSlices);
  }

  /** Loads (or finds in cache) the L2 slice holding entry `l2Index` of the table at `l2Offset`. */
  l2Slice(l2Offset: number, l2Index: number): Promise<MetaSlice> {
    const { l2SliceEntries, l2EntryBytes, clusterSize } = this.info;
    const key = l2Offset + (l2Index - (l2Index % l2SliceEntries)) * l2EntryBytes;
    // As QEMU, a reader sees the part of an L2 table past the end of the file as zeros (unallocated). Open
    // records such a table as damage that refuses writes; a writer never gets invented zeros.
    return this.load(
      this.l2,
      key,
      l2SliceEntries * l2EntryBytes,
      () =>
        l2Offset + clusterSize > this.fileEnd.size && !this.recycleBuffers
          ? badImage(this.info.path, `L2 table at 0x${l2Offset.toString(16)} lies beyond the end of the file`)
          : undefined,
      this.recycleBuffers,
    );
  }

  /**
   * The L2 slice without awaiting, when it is cached or the file can be read synchronously; otherwise undefined
   * (use l2Slice). The caller must be done with the slice before it awaits anything: slices loaded here reuse the
   * buffer of the last one evicted, since fresh memory costs a page fault per 4 KiB and a map reads every L2 table.
   */
  l2Now(l2Offset: number, l2Index: number): MetaSlice | undefined {
    const { l2SliceEntries, l2EntryBytes, clusterSize } = this.info;
    const key = l2Offset + (l2Index - (l2Index % l2SliceEntries)) * l2EntryBytes;
    const hit = this.l2.get(key);
    if (hit || !this.io.readAtSync || this.loading.has(key) || l2Offset + clusterSize > this.fileEnd.size) return hit;
    const bytes = l2SliceEntries * l2EntryBytes;
    const data = this.spareL2?.length === bytes ? this.spareL2 : new Uint8Array(bytes);
    this.spareL2 = undefined;
    if (readFullySync(this.io, data, key) < bytes) throw this.metadataPastEnd(key);
    return this.insert(this.l2, key, { offset: key, data, dirty: false, recyclable: true });
  }

  /** Shared loader for cached metadata slices; concurrent loads of one slice share a single read. */
  async load(cache: SliceCache, key: number, bytes: number, validate: () => Error | undefined, zeroFillPastEnd = false): Promise<MetaSlice> {
    const hit = cache.get(key);
    if (hit) {
      hit.recyclable = false; // the caller may hold it across awaits
      return hit;
    }
    const pending = this.loading.get(key);
    if (pending) return pending;
    const load = (async () => {
      if (key + bytes > this.fileEnd.size) await this.fileEnd.refresh();
      const err = validate();
      if (err) throw err;
      const data = new Uint8Array(bytes);
      const n = await readFully(this.io, data, key);
      if (n < bytes && !zeroFillPastEnd) throw this.metadataPastEnd(key);
      const slice = this.insert(cache, key, { offset: key, data, dirty: false });
      slice.recyclable = false; // it may be a slice l2Now cached meanwhile
      return slice;
    })();
    this.loading.set(key, load);
    try {
      return await load;
    } finally {
      this.loading.delete(key);
    }
  }

  /**
   * Adds a slice to a cache, evicting the least recently used clean slice. Dirty slices are never evicted
   * (they wait for flushMeta); if every slice is dirty the cache grows until the next flush.
   */
  insert(cache: SliceCache, key: number, slice: MetaSlice): MetaSlice {
    // One object per slice: whoever cached it first wins (it may already carry unwritten changes).
    const present = cache.get(key);
    if (present) return present;
    if (cache.size >= cache.limit) {
      let victim: number | undefined;
      for (const [k, s] of cache.entries()) {
        if (!s.dirty) {
          victim = k;
          break;
        }
      }
      if (victim !== undefined) this.evict(cache, victim);
      else cache.resize(cache.limit + 1);
    }
    cache.set(key, slice);
    return slice;
  }

  /**
   * The cached object for a slice the caller fetched earlier: a clean slice may have been evicted (and even
   * reloaded) while the caller awaited something; changes must go to the one object the cache holds.
   */
  current(cache: SliceCache, slice: MetaSlice): MetaSlice {
    return cache.get(slice.offset) ?? this.insert(cache, slice.offset, slice);
  }

  /** Drops cached slices of host clusters that are being reused for something new. */
  forgetHostRange(offset: number, length: number): void {
    const step = Math.min(this.info.clusterSize, 64 * 1024);
    for (let k = offset - (offset % step); k < offset + length; k += step) {
      for (const cache of [this.l2, this.refblocks]) {
        const s = cache.peek(k);
        if (s?.dirty) throw new Qcow2Error('bad-image', `internal error: reused cluster at 0x${k.toString(16)} has unwritten metadata`, this.info.path);
        cache.delete(k);
      }
    }
  }

  /** Back to the configured sizes once dirty slices are written. */
  restoreLimits(): void {
    if (this.l2.limit > this.l2Base) this.l2.resize(Math.max(this.l2Base, dirtyCount(this.l2)));
    if (this.refblocks.limit > this.refblockBase) this.refblocks.resize(Math.max(this.refblockBase, dirtyCount(this.refblocks)));
  }

  /** Frees the memory of every clean slice (dirty ones wait for flushMeta). */
  dropClean(): void {
    for (const cache of [this.l2, this.refblocks]) {
      for (const [key, slice] of [...cache.entries()]) if (!slice.dirty) cache.delete(key);
    }
  }

  clear(): void {
    this.l2.clear();
    this.refblocks.clear();
  }

  private metadataPastEnd(key: number): Qcow2Error {
    return badImage(this.info.path, `metadata at 0x${key.toString(16)} lies beyond the end of the file`);
  }

  /** Drops a clean slice; its buffer becomes the spare when nobody can still hold it (no writer keeps slices). */
  private evict(cache: SliceCache, key: number): void {
    const slice = cache.peek(key);
    cache.delete(key);
    if (cache === this.l2 && slice?.recyclable && this.recycleBuffers) this.spareL2 = slice.data;
  }
}

function dirtyCount(cache: SliceCache): number {
  let n = 0;
  for (const [, s] of cache.entries()) if (s.dirty) n++;
  return n;
}
