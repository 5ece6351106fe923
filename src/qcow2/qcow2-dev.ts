import { isAligned, u32 } from './bytes';
import { badImage, Qcow2Error } from './errors';
import { readFully, readFullySync, type Qcow2IoOps } from './io';
import { parseHeader, type Qcow2Header } from './header';
import { deriveInfo, type Qcow2Info } from './info';
import { LruCache } from './lru';
import { compressedRange, entryOffset, entryWords, isCompressed, isCopied, standardRunEnd, ZERO_LO } from './entries';
import { decompressCluster } from './compress';
import { readSnapshotTable, type Snapshot } from './snapshots';
import { readBitmapDirectory, type BitmapEntry } from './bitmaps';
import type { BlockLayer, LayerRun, RunKind } from './layer';
import { Qcow2Writer } from './write';
import { prepareFirstWrite } from './write-gate';
import { checkImage, type CheckOptions, type CheckResultEx } from './check/check';
import { clusterUsage, type ClusterUsage, type UsageCallback, type UsageOptions } from './usage';

export interface Qcow2DevParams {
  readOnly?: boolean;
  /** L2 cache capacity in slices (a slice is at most 64 KiB). */
  l2CacheSlices?: number;
  /** Refcount-block cache capacity in slices. */
  refblockCacheSlices?: number;
}

export const DEFAULT_L2_CACHE_SLICES = 256;
export const DEFAULT_REFBLOCK_CACHE_SLICES = 64;
/** Host bytes read at once when fetching compressed clusters (they are packed back to back). */
export const COMPRESSED_READAHEAD = 512 * 1024;

/** A cached piece of an L2 table or refcount block. `dirty` slices are written back by flushMeta. */
export interface MetaSlice {
  /** Host offset of the slice's first byte. */
  offset: number;
  data: Uint8Array;
  dirty: boolean;
  /** Set when only synchronous code has seen this slice, so its buffer may be reused once it is evicted. */
  recyclable?: boolean;
}

/** Where a guest offset's data comes from, through the whole chain. */
export interface Mapping {
  /** The guest range this answer covers, starting at the queried offset. */
  offset: number;
  length: number;
  kind: RunKind;
  /** 0 for this image, 1 for its backing file, and so on. */
  depth: number;
  /** The file of the layer that answers. */
  file: string;
  format: 'qcow2' | 'raw';
  hostOffset?: number;
  compressed?: { offset: number; length: number };
  l1Index?: number;
  l2Index?: number;
}

/**
 * One qcow2 image, following the Qcow2Dev API of qcow2-rs. Construct through `openImage` (open.ts), which
 * also opens the data file and the backing chain, or with `new` and `prepIo()` for a bare image.
 */
export class Qcow2Dev implements BlockLayer {
  readonly format = 'qcow2' as const;
  readonly info: Qcow2Info;
  /** External data file, when the image has one. */
  dataIo?: Qcow2IoOps;
  backing?: BlockLayer;
  /** True when the backing format was not recorded and we probed it. */
  backingFormatProbed = false;
  l1 = new Uint8Array(0);
  reftable = new Uint8Array(0);
  snapshots: Snapshot[] = [];
  snapshotTableBytes = 0;
  bitmaps: BitmapEntry[] = [];
  /** Size of the image file as last seen; refreshed when a read falls short. */
  fileSize = 0;
  readonly l2Cache: LruCache<number, MetaSlice>;
  readonly refblockCache: LruCache<number, MetaSlice>;
  private readonly loading = new Map<number, Promise<MetaSlice>>();
  /** The last decompressed cluster, and the read-ahead window of host bytes it came from. */
  private lastCompressed?: { key: number; data: Uint8Array; window?: { offset: number; bytes: Uint8Array } };
  private prepared = false;
  /** Cache capacities as configured; caches grow past them only while every slice is dirty. */
  readonly l2CacheBase: number;
  readonly refblockCacheBase: number;
  /** The write path, created by the first write (write.ts). */
  private writer?: Qcow2Writer;
  private writerPending?: Promise<Qcow2Writer>;
  /** A buffer from an evicted L2 slice, for l2SliceNow to reuse. */
  private spareL2?: Uint8Array;
  /** Guest reads in progress (see readAt). */
  activeReads = 0;

  constructor(
    readonly path: string,
    public header: Qcow2Header,
    params: Qcow2DevParams,
    readonly io: Qcow2IoOps,
  ) {
    this.info = deriveInfo(path, header, params.readOnly ?? io.readOnly);
    this.l2CacheBase = params.l2CacheSlices ?? DEFAULT_L2_CACHE_SLICES;
    this.refblockCacheBase = params.refblockCacheSlices ?? DEFAULT_REFBLOCK_CACHE_SLICES;
    this.l2Cache = new LruCache(this.l2CacheBase);
    this.refblockCache = new LruCache(this.refblockCacheBase);
  }

  /** Reads and validates the header of an open file, then builds the device (tables not loaded yet). */
  static async fromIo(io: Qcow2IoOps, params: Qcow2DevParams = {}): Promise<Qcow2Dev> {
    const fileSize = await io.size();
    const first = new Uint8Array(Math.min(fileSize, 4096));
    await readFully(io, first, 0);
    let cluster0 = first;
    const clusterBits = first.length >= 24 ? u32(first, 20) : 0;
    if (clusterBits >= 9 && clusterBits <= 21 && 2 ** clusterBits > first.length && fileSize > first.length) {
      cluster0 = new Uint8Array(Math.min(fileSize, 2 ** clusterBits));
      await readFully(io, cluster0, 0);
    }
    const header = parseHeader(cluster0, io.path, fileSize);
    const dev = new Qcow2Dev(io.path, header, params, io);
    dev.fileSize = fileSize;
    return dev;
  }

  get virtualSize(): number {
    return this.info.virtualSize;
  }

  setBackingDev(back: BlockLayer): void {
    this.backing = back;
  }

  l2CacheIsEmpty(): boolean {
    return this.l2Cache.size === 0;
  }

  refblockCacheIsEmpty(): boolean {
    return this.refblockCache.size === 0;
  }

  /** Writes back pending metadata, then drops the cached metadata to free memory (e.g. when idle). */
  async shrinkCaches(): Promise<void> {
    const drop = async (): Promise<void> => {
      if (this.writer) await this.writer.flush();
      for (const cache of [this.l2Cache, this.refblockCache]) {
        for (const [key, slice] of [...cache.entries()]) if (!slice.dirty) cache.delete(key);
      }
      this.lastCompressed = undefined;
    };
    await (this.writer ? this.writer.mutex.run(drop) : drop());
  }

  /** Writes buf at guest offset `offset` (copy-on-write, allocation; see write.ts). Writes are serialised. */
  async writeAt(buf: Uint8Array, offset: number): Promise<void> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + buf.length > this.info.virtualSize) {
      throw new Qcow2Error('range', `write of ${buf.length} bytes at offset ${offset} is beyond the virtual size ${this.info.virtualSize}`, this.path);
    }
    // No await before submit once the writer exists: concurrent writes keep their issue order.
    const writer = this.writer ?? (await this.getWriter());
    if (buf.length === 0) return;
    await writer.submit(buf, offset);
  }

  /** Makes a guest range read as zeros, with zero clusters where whole clusters are covered (see Qcow2Writer.submitZeroes). */
  async writeZeroes(offset: number, length: number): Promise<void> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.info.virtualSize) {
      throw new Qcow2Error('range', `zero write of ${length} bytes at offset ${offset} is beyond the virtual size ${this.info.virtualSize}`, this.path);
    }
    const writer = this.writer ?? (await this.getWriter());
    if (length > 0) await writer.submitZeroes(offset, length);
  }

  /** Stores a compressed cluster for the unallocated guest cluster at `guest` (see Qcow2Writer.writeCompressed). */
  async writeCompressedCluster(guest: number, compressed: Uint8Array): Promise<void> {
    if (!Number.isSafeInteger(guest) || guest < 0 || guest % this.info.clusterSize !== 0 || guest >= this.info.virtualSize) {
      throw new Qcow2Error('range', `compressed write at guest offset ${guest} is not a cluster inside the disk`, this.path);
    }
    const writer = this.writer ?? (await this.getWriter());
    await writer.mutex.run(() => writer.writeCompressed(guest, compressed));
  }

  /** Writes dirty L2/refcount metadata to disk in the crash-safe order. */
  async flushMeta(): Promise<void> {
    const writer = this.writer;
    if (writer) await writer.mutex.run(() => writer.flush());
  }

  /** True when written data is not yet reachable from on-disk metadata (flushMeta pending). */
  needFlushMeta(): boolean {
    return this.writer?.wb.pending ?? false;
  }

  /**
   * Makes guest writes durable: metadata is flushed in order and the image (and data file) synced.
   * The range is advisory; the whole file is synced.
   */
  async fsyncRange(_offset: number, _length: number): Promise<void> {
    const writer = this.writer;
    if (!writer) return;
    await writer.mutex.run(async () => {
      await writer.flush();
      await this.io.fsync();
      await this.dataIo?.fsync();
    });
  }

  /** The writer, created once (after the first-write checks); concurrent first writes share one creation. */
  private getWriter(): Promise<Qcow2Writer> {
    if (this.writer) return Promise.resolve(this.writer);
    this.writerPending ??= (async () => {
      await this.prepIo();
      await prepareFirstWrite(this);
      this.writer = new Qcow2Writer(this);
      return this.writer;
    })().finally(() => {
      this.writerPending = undefined;
    });
    return this.writerPending;
  }

  /** Back to the configured cache sizes once dirty slices are written. */
  restoreCacheLimits(): void {
    if (this.l2Cache.limit > this.l2CacheBase) this.l2Cache.resize(Math.max(this.l2CacheBase, this.dirtyCount(this.l2Cache)));
    if (this.refblockCache.limit > this.refblockCacheBase) this.refblockCache.resize(Math.max(this.refblockCacheBase, this.dirtyCount(this.refblockCache)));
  }

  private dirtyCount(cache: LruCache<number, MetaSlice>): number {
    let n = 0;
    for (const [, s] of cache.entries()) if (s.dirty) n++;
    return n;
  }

  forgetCompressed(): void {
    this.lastCompressed = undefined;
  }

  /** Drops cached slices of host clusters that are being reused for something new. */
  forgetHostRange(offset: number, length: number): void {
    this.lastCompressed = undefined;
    const step = Math.min(this.info.clusterSize, 64 * 1024);
    for (let k = offset - (offset % step); k < offset + length; k += step) {
      for (const cache of [this.l2Cache, this.refblockCache]) {
        const s = cache.peek(k);
        if (s?.dirty) throw new Qcow2Error('bad-image', `internal error: reused cluster at 0x${k.toString(16)} has unwritten metadata`, this.path);
        cache.delete(k);
      }
    }
  }

  /** Integrity check, and repair with `opts.repair`, as qemu-img check (check/check.ts). */
  async check(opts: CheckOptions = {}): Promise<CheckResultEx> {
    await this.flushMeta();
    try {
      return await checkImage(this, opts);
    } finally {
      if (opts.repair) await this.reloadAfterRepair().catch(() => undefined); // a failed reload is retried by the next read
    }
  }

  /** Host clusters by use: header, tables, data, free, leaked... (usage.ts). */
  async clusterUsage(cb?: UsageCallback, opts?: UsageOptions): Promise<ClusterUsage> {
    await this.flushMeta();
    return clusterUsage(this, cb, opts);
  }

  /** A repair rewrote metadata behind the caches: drop them and the write state, and reload the tables. */
  private async reloadAfterRepair(): Promise<void> {
    this.writer = undefined;
    this.prepared = false;
    this.l2Cache.clear();
    this.refblockCache.clear();
    this.lastCompressed = undefined;
    Object.assign(this.info, deriveInfo(this.path, this.header, this.info.readOnly));
    await this.prepIo();
  }

  /** Loads the L1 table, refcount table, snapshot table and bitmap directory. Idempotent. */
  async prepIo(): Promise<void> {
    if (this.prepared) return;
    const h = this.header;
    const file = this.path;
    this.fileSize = await this.io.size();
    this.l1 = new Uint8Array(h.l1Size * 8);
    if ((await readFully(this.io, this.l1, h.l1TableOffset)) < this.l1.length) throw badImage(file, 'L1 table lies beyond the end of the file');
    this.reftable = new Uint8Array(h.refcountTableClusters * this.info.clusterSize);
    if ((await readFully(this.io, this.reftable, h.refcountTableOffset)) < this.reftable.length) {
      throw badImage(file, 'refcount table lies beyond the end of the file');
    }
    const snaps = await readSnapshotTable(this.io, h.snapshotsOffset, h.nbSnapshots, this.fileSize, this.info.clusterSize);
    this.snapshots = snaps.snapshots;
    this.snapshotTableBytes = snaps.byteLength;
    if (h.extensions.bitmaps) this.bitmaps = await readBitmapDirectory(this.io, h.extensions.bitmaps, this.fileSize);
    this.prepared = true;
  }

  /** The L2 table offset recorded in L1 entry `index` (0 when unallocated). */
  l2TableOffset(index: number): number {
    if (index >= this.info.l1Size) return 0;
    const [hi, lo] = entryWords(this.l1, index * 8);
    const off = entryOffset(hi, lo);
    if (off !== 0 && !isAligned(off, this.info.clusterSize)) {
      throw badImage(this.path, `L1 entry ${index} points to unaligned L2 table offset 0x${off.toString(16)}`);
    }
    return off;
  }

  /** Loads (or finds in cache) the L2 slice holding entry `l2Index` of the table at `l2Offset`. */
  async l2Slice(l2Offset: number, l2Index: number): Promise<MetaSlice> {
    const { l2SliceEntries, l2EntryBytes, clusterSize } = this.info;
    const sliceStart = l2Index - (l2Index % l2SliceEntries);
    const key = l2Offset + sliceStart * l2EntryBytes;
    return this.loadSlice(this.l2Cache, key, l2SliceEntries * l2EntryBytes, () => {
      if (l2Offset + clusterSize > this.fileSize) {
        return badImage(this.path, `L2 table at 0x${l2Offset.toString(16)} lies beyond the end of the file`);
      }
      return undefined;
    });
  }

  /**
   * The L2 slice without awaiting, when it is cached or the file can be read synchronously; otherwise undefined
   * (use l2Slice). The caller must be done with the slice before it awaits anything: slices loaded here reuse the
   * buffer of the last one evicted, since fresh memory costs a page fault per 4 KiB and a map reads every L2 table.
   */
  private l2SliceNow(l2Offset: number, l2Index: number): MetaSlice | undefined {
    const { l2SliceEntries, l2EntryBytes, clusterSize } = this.info;
    const key = l2Offset + (l2Index - (l2Index % l2SliceEntries)) * l2EntryBytes;
    const hit = this.l2Cache.get(key);
    if (hit || !this.io.readAtSync || this.loading.has(key) || l2Offset + clusterSize > this.fileSize) return hit;
    const bytes = l2SliceEntries * l2EntryBytes;
    const data = this.spareL2?.length === bytes ? this.spareL2 : new Uint8Array(bytes);
    this.spareL2 = undefined;
    if (readFullySync(this.io, data, key) < bytes) throw this.metadataPastEnd(key);
    return this.insertSlice(this.l2Cache, key, { offset: key, data, dirty: false, recyclable: true });
  }

  /** Shared loader for cached metadata slices; concurrent loads of one slice share a single read. */
  async loadSlice(cache: LruCache<number, MetaSlice>, key: number, bytes: number, validate: () => Error | undefined): Promise<MetaSlice> {
    const hit = cache.get(key);
    if (hit) {
      hit.recyclable = false; // the caller may hold it across awaits
      return hit;
    }
    const pending = this.loading.get(key);
    if (pending) return pending;
    const load = (async () => {
      if (key + bytes > this.fileSize) this.fileSize = Math.max(this.fileSize, await this.io.size());
      const err = validate();
      if (err) throw err;
      const data = new Uint8Array(bytes);
      const n = await readFully(this.io, data, key);
      if (n < bytes) throw this.metadataPastEnd(key);
      const slice = this.insertSlice(cache, key, { offset: key, data, dirty: false });
      slice.recyclable = false; // it may be a slice l2SliceNow cached meanwhile
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
  insertSlice(cache: LruCache<number, MetaSlice>, key: number, slice: MetaSlice): MetaSlice {
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

  private metadataPastEnd(key: number): Qcow2Error {
    return badImage(this.path, `metadata at 0x${key.toString(16)} lies beyond the end of the file`);
  }

  /** Drops a clean slice; its buffer becomes the spare when nobody can still hold it (no writer keeps slices). */
  private evict(cache: LruCache<number, MetaSlice>, key: number): void {
    const slice = cache.peek(key);
    cache.delete(key);
    if (cache === this.l2Cache && slice?.recyclable && !this.writer && !this.writerPending) this.spareL2 = slice.data;
  }

  /**
   * The cached object for a slice the caller fetched earlier: a clean slice may have been evicted (and even
   * reloaded) while the caller awaited something; changes must go to the one object the cache holds.
   */
  currentSlice(cache: LruCache<number, MetaSlice>, slice: MetaSlice): MetaSlice {
    return cache.get(slice.offset) ?? this.insertSlice(cache, slice.offset, slice);
  }

  /** How this image alone maps guest bytes from `offset`: one run of same-kind, host-contiguous (sub)clusters. */
  async blockStatus(offset: number, maxLength: number): Promise<LayerRun> {
    await this.prepIo();
    const info = this.info;
    const limit = Math.min(maxLength, info.virtualSize - offset);
    if (limit <= 0 || offset < 0) throw new Qcow2Error('range', `offset ${offset} is beyond the virtual size ${info.virtualSize}`, this.path);
    const l1Index = Math.floor(offset / info.l1EntrySpan);
    const l2Offset = this.l2TableOffset(l1Index);
    if (l2Offset === 0) {
      // Coalesce consecutive unallocated L1 entries.
      let end = (l1Index + 1) * info.l1EntrySpan;
      for (let i = l1Index + 1; end < offset + limit && this.l2TableOffset(i) === 0; i++) end += info.l1EntrySpan;
      return { kind: 'unallocated', length: Math.min(end - offset, limit), l1Index };
    }
    const inTable = offset - l1Index * info.l1EntrySpan;
    const l2Index = Math.floor(inTable / info.clusterSize);
    // From here to the return nothing awaits, so the slice may come from l2SliceNow.
    const slice = this.l2SliceNow(l2Offset, l2Index) ?? (await this.l2Slice(l2Offset, l2Index));
    const sliceFirst = l2Index - (l2Index % info.l2SliceEntries);
    // Walk units (subclusters with extended L2, else clusters) from the one holding `offset`.
    const unit = info.subclusterSize;
    const unitsPerCluster = info.subclustersPerCluster;
    const firstUnit = Math.floor(inTable / unit);
    const sliceEndUnit = (sliceFirst + info.l2SliceEntries) * unitsPerCluster;
    const endUnit = Math.min(sliceEndUnit, Math.ceil((inTable + limit) / unit));
    const first = this.classify(slice.data, (l2Index - sliceFirst) * info.l2EntryBytes, firstUnit % unitsPerCluster, l1Index, l2Index);
    let u = firstUnit + 1;
    if (first.kind !== 'compressed' && !info.extendedL2 && !info.hasDataFile) {
      // Fast path for standard entries (map walks millions of them).
      // Entries without a host cluster all hold offset 0; the others continue first.host cluster by cluster.
      const step = first.host < 0 ? 0 : unit;
      const zero = first.kind === 'zero' ? ZERO_LO : 0;
      u = sliceFirst + standardRunEnd(slice.data, u - sliceFirst, endUnit - sliceFirst, Math.max(first.host, 0) + step, step, zero, info.version >= 3 ? ZERO_LO : 0);
    } else if (first.kind !== 'compressed') {
      for (; u < endUnit; u++) {
        const idx = Math.floor(u / unitsPerCluster);
        const next = this.classify(slice.data, (idx - sliceFirst) * info.l2EntryBytes, u % unitsPerCluster, l1Index, idx);
        if (next.kind !== first.kind) break;
        const expectHost = first.host < 0 ? -1 : first.host + (u - firstUnit) * unit;
        if (next.host !== expectHost) break;
      }
    }
    const runEnd = l1Index * info.l1EntrySpan + u * unit;
    const run: LayerRun = { kind: first.kind, length: Math.min(runEnd - offset, limit), l1Index, l2Index };
    if (first.host >= 0) run.hostOffset = first.host + (inTable - firstUnit * unit);
    if (first.compressed) run.compressed = first.compressed;
    return run;
  }

  /** Classifies one (sub)cluster from its L2 entry; `host` is the unit's host offset or -1. */
  private classify(table: Uint8Array, at: number, sub: number, l1Index: number, l2Index: number): { kind: RunKind; host: number; compressed?: { offset: number; length: number } } {
    const [hi, lo] = entryWords(table, at);
    if (isCompressed(hi)) {
      const range = compressedRange(hi, lo, this.info.clusterBits);
      if (!range) throw this.entryError(l1Index, l2Index, 'compressed data offset is out of range');
      return { kind: 'compressed', host: -1, compressed: range };
    }
    const off = entryOffset(hi, lo);
    const allocated = off !== 0 || (this.info.hasDataFile && isCopied(hi));
    if (allocated && !isAligned(off, this.info.clusterSize)) {
      throw this.entryError(l1Index, l2Index, `points to unaligned host offset 0x${off.toString(16)}`);
    }
    if (!this.info.extendedL2) {
      if (lo & ZERO_LO && this.info.version >= 3) return { kind: 'zero', host: allocated ? off : -1 };
      return allocated ? { kind: 'data', host: off } : { kind: 'unallocated', host: -1 };
    }
    const bitmapZero = u32(table, at + 8);
    const bitmapAlloc = u32(table, at + 12);
    const bit = 1 << sub;
    if (bitmapZero & bitmapAlloc & bit) throw this.entryError(l1Index, l2Index, `subcluster ${sub} is marked both allocated and zero`);
    const host = allocated ? off + sub * this.info.subclusterSize : -1;
    if (bitmapAlloc & bit) {
      if (!allocated) throw this.entryError(l1Index, l2Index, `subcluster ${sub} is allocated but the cluster has no host offset`);
      return { kind: 'data', host };
    }
    if (bitmapZero & bit) return { kind: 'zero', host };
    return { kind: 'unallocated', host };
  }

  private entryError(l1Index: number, l2Index: number, what: string): Qcow2Error {
    const guest = l1Index * this.info.l1EntrySpan + l2Index * this.info.clusterSize;
    return badImage(this.path, `L2 entry for guest offset 0x${guest.toString(16)} (L1 ${l1Index}, L2 ${l2Index}) ${what}`);
  }

  /** Where the data at `offset` comes from, following the backing chain. */
  async getMapping(offset: number): Promise<Mapping> {
    let layer: BlockLayer = this;
    let depth = 0;
    let length = this.info.virtualSize - offset;
    for (;;) {
      const run = await layer.blockStatus(offset, length);
      length = run.length;
      const next = layer.backing;
      if (run.kind !== 'unallocated' || !next || offset >= next.virtualSize) {
        return { offset, length, kind: run.kind, depth, file: layer.path, format: layer.format, hostOffset: run.hostOffset, compressed: run.compressed, l1Index: run.l1Index, l2Index: run.l2Index };
      }
      length = Math.min(length, next.virtualSize - offset);
      layer = next;
      depth++;
    }
  }

  /** Reads guest bytes at `offset` into buf. Reads past the virtual size are an error. */
  async readAt(buf: Uint8Array, offset: number): Promise<number> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + buf.length > this.info.virtualSize) {
      throw new Qcow2Error('range', `read of ${buf.length} bytes at offset ${offset} is beyond the virtual size ${this.info.virtualSize}`, this.path);
    }
    // While reads run, clusters released by writes are not freed (a read may still be using the old mapping).
    this.activeReads++;
    try {
      return await this.readMapped(buf, offset);
    } finally {
      this.activeReads--;
    }
  }

  private async readMapped(buf: Uint8Array, offset: number): Promise<number> {
    let pos = 0;
    while (pos < buf.length) {
      const at = offset + pos;
      const run = await this.blockStatus(at, buf.length - pos);
      const dst = buf.subarray(pos, pos + run.length);
      switch (run.kind) {
        case 'data':
          await this.readHost(dst, run.hostOffset!);
          break;
        case 'zero':
          dst.fill(0);
          break;
        case 'unallocated':
          await this.readBacking(dst, at);
          break;
        case 'compressed': {
          const cluster = await this.readCompressedCluster(run.compressed!);
          const inCluster = at % this.info.clusterSize;
          dst.set(cluster.subarray(inCluster, inCluster + dst.length));
          break;
        }
      }
      pos += run.length;
    }
    return buf.length;
  }

  /** Reads guest data from the backing chain; past the backing file's end, zeros. */
  async readBacking(dst: Uint8Array, offset: number): Promise<void> {
    const back = this.backing;
    const n = back ? Math.max(0, Math.min(dst.length, back.virtualSize - offset)) : 0;
    if (n > 0) await back!.readAt(dst.subarray(0, n), offset);
    dst.fill(0, n);
  }

  /** Reads allocated data from the image (or its external data file). */
  async readHost(dst: Uint8Array, host: number): Promise<void> {
    const io = this.dataIo ?? this.io;
    const n = await readFully(io, dst, host);
    if (n < dst.length) {
      // The write path may have allocated past the file's current end (extended at the next flush).
      if (io === this.io && host >= (this.fileSize = Math.max(this.fileSize, await io.size()))) {
        throw badImage(this.path, `data cluster at 0x${host.toString(16)} lies beyond the end of the file`);
      }
      dst.fill(0, n); // a short last cluster (or a sparse data file) reads as zeros, as in QEMU
    }
  }

  async readCompressedCluster(range: { offset: number; length: number }): Promise<Uint8Array> {
    if (this.lastCompressed?.key === range.offset) return this.lastCompressed.data;
    const { clusterSize } = this.info;
    if (range.offset >= this.fileSize && range.offset >= (this.fileSize = Math.max(this.fileSize, await this.io.size()))) {
      throw badImage(this.path, `compressed cluster at 0x${range.offset.toString(16)} lies beyond the end of the file`);
    }
    const want = Math.min(range.length, 2 * clusterSize + 512);
    let window = this.lastCompressed?.window;
    let input: Uint8Array;
    if (window && range.offset >= window.offset && range.offset + want <= window.offset + window.bytes.length) {
      input = window.bytes.subarray(range.offset - window.offset, range.offset - window.offset + want);
    } else {
      // Compressed clusters usually lie one after another: read ahead, so a scan costs one read per window.
      const bytes = new Uint8Array(Math.max(want, Math.min(COMPRESSED_READAHEAD, this.fileSize - range.offset)));
      const n = await readFully(this.io, bytes, range.offset);
      window = { offset: range.offset, bytes: bytes.subarray(0, n) };
      input = window.bytes.subarray(0, Math.min(n, want));
    }
    const data = decompressCluster(this.header.compressionType, input, clusterSize, this.path);
    this.lastCompressed = { key: range.offset, data, window };
    return data;
  }

  /** Closes this image, its data file and its backing chain. */
  async close(): Promise<void> {
    try {
      if (this.writer?.wb.pending) await this.flushMeta();
    } finally {
      await this.closeFiles();
    }
  }

  private async closeFiles(): Promise<void> {
    await this.backing?.close();
    await this.dataIo?.close();
    await this.io.close();
  }
}
