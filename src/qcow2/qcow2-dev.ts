/**
 * Qcow2Dev: one qcow2 image, following the Qcow2Dev API of qcow2-rs (new, set_backing_dev, caches, fsync_range,
 * flush_meta, get_mapping, read_at, write_at, need_flush_meta, qcow2_cluster_usage, check, qcow2_prep_io).
 * It is the façade: it owns the image's parts and checks each request before handing it to the part that does
 * the job: the tables and the header fields that point at them (format/image-tables.ts), the metadata cache
 * (cache/), guest reads and mapping (read/guest-read.ts, read/block-status.ts), the write side (write/writer-slot.ts:
 * the one lock and the writer, which sees this class only as a WritableImage; write/index.ts states the
 * concurrency contract), check and usage (check/).
 */
import { Qcow2Error } from './errors';
import type { CompressedRange } from './format/entries';
import { parseHeader, readHeaderCluster, type Qcow2Header } from './format/header';
import { deriveInfo, type Qcow2Info } from './format/info';
import type { Snapshot } from './format/snapshots';
import type { BitmapEntry } from './format/bitmaps';
import { ImageTables, loadSnapshotTables } from './format/image-tables';
import type { Qcow2IoOps } from './io/ops';
import { FileEnd } from './io/file-end';
import { DEFAULT_L2_CACHE_SLICES, DEFAULT_REFBLOCK_CACHE_SLICES, MetadataCache, type MetaSlice } from './cache/metadata-cache';
import { blockStatus } from './read/block-status';
import { chainMapping, type Mapping } from './read/mapping';
import { CompressedClusterReader } from './read/compressed-reader';
import { GuestReads, type ReadableImage } from './read/guest-read';
import type { BlockLayer, LayerRun } from './layer';
import { WriterSlot, type WritableImage } from './write';
import type { BitmapAddOptions } from './write/bitmap-add';
import type { SnapshotCreateOptions } from './write/snapshot-create';
import { checkImage, type CheckOptions, type CheckResultEx } from './check/check';
import { openHeaderCrypto, type EncryptionKey, type ImageCrypto } from './crypto/image-crypto';
import { clusterUsage, type ClusterUsage, type UsageCallback, type UsageOptions } from './check/usage';

export { DEFAULT_L2_CACHE_SLICES, DEFAULT_REFBLOCK_CACHE_SLICES, type MetaSlice, type Mapping };

export interface Qcow2DevParams {
  readOnly?: boolean;
  /** L2 cache capacity in slices (a slice is at most 64 KiB). */
  l2CacheSlices?: number;
  /** Refcount-block cache capacity in slices. */
  refblockCacheSlices?: number;
  /**
   * As qemu-img info: a data file that is missing, or that the header needs but does not name, does not fail the
   * open; `dataFileError` says why guest data is then refused.
   */
  dataFileOptional?: boolean;
  /** Unlocks an encrypted image (LUKS or legacy AES); without it an encrypted image is refused at open. */
  encryptionKey?: EncryptionKey;
  /**
   * Opens an encrypted image without a key, for its metadata only (info, map): guest data reads are refused and
   * writes too. Ignored when `encryptionKey` is given.
   */
  allowLocked?: boolean;
}

/** Construct through `openImage` (open.ts), which also opens the data file and the backing chain, or `fromIo` and `prepIo()`. */
export class Qcow2Dev implements BlockLayer, WritableImage, ReadableImage {
  readonly format = 'qcow2' as const;
  readonly info: Qcow2Info;
  /** External data file, when the image has one. */
  dataIo?: Qcow2IoOps;
  /** Why the external data file is not open (set when opened with dataFileOptional); guest data is then refused. */
  dataFileError?: string;
  backing?: BlockLayer;
  /** True when the backing format was not recorded and we probed it. */
  backingFormatProbed = false;
  /** The unlocked key of an encrypted image: data clusters are decrypted on read and encrypted on write. */
  crypto?: ImageCrypto;
  readonly cache: MetadataCache;
  /** The L1, refcount and snapshot tables and the bitmap directory: their one owner (format/image-tables.ts). */
  readonly tables: ImageTables;
  private readonly fileEnd: FileEnd;
  private readonly compressed: CompressedClusterReader;
  private readonly reads: GuestReads;
  /** The one lock and the write path, created by the first write (write/index.ts states the contract). */
  private readonly writes = new WriterSlot(this, () => this.prepIo());
  /** Set on a read-only view of an internal snapshot: the device whose files and backing chain it shares. */
  private viewOf?: Qcow2Dev;

  constructor(
    readonly path: string,
    public header: Qcow2Header,
    params: Qcow2DevParams,
    readonly io: Qcow2IoOps,
  ) {
    this.info = deriveInfo(path, header, params.readOnly ?? io.readOnly);
    this.tables = new ImageTables(path, header, this.info);
    this.fileEnd = new FileEnd(io);
    this.cache = new MetadataCache(
      io,
      this.info,
      this.fileEnd,
      params.l2CacheSlices ?? DEFAULT_L2_CACHE_SLICES,
      params.refblockCacheSlices ?? DEFAULT_REFBLOCK_CACHE_SLICES,
    );
    this.compressed = new CompressedClusterReader(io, this.fileEnd, this.info.clusterSize, header.compressionType, path);
    this.reads = new GuestReads(this, this.fileEnd, this.compressed);
  }

  /** Reads and validates the header of an open file, then builds the device (tables not loaded yet). */
  static async fromIo(io: Qcow2IoOps, params: Qcow2DevParams = {}): Promise<Qcow2Dev> {
    const { bytes, fileSize } = await readHeaderCluster(io);
    const dev = new Qcow2Dev(
      io.path,
      parseHeader(bytes, io.path, fileSize, false, {
        unnamedDataFileOk: params.dataFileOptional,
        allowEncrypted: params.encryptionKey !== undefined || params.allowLocked === true,
      }),
      params,
      io,
    );
    dev.noteFileEnd(fileSize);
    if (dev.info.hasDataFile && dev.header.extensions.dataFile === undefined) dev.dataFileError = 'image needs an external data file but does not name one';
    dev.crypto = await openHeaderCrypto(io, dev.header, fileSize, params.encryptionKey);
    return dev;
  }

  get virtualSize(): number {
    return this.info.virtualSize;
  }
  get l1(): Uint8Array {
    return this.tables.l1;
  }
  get reftable(): Uint8Array {
    return this.tables.reftable;
  }
  get snapshots(): Snapshot[] {
    return this.tables.snapshots;
  }
  get snapshotTableBytes(): number {
    return this.tables.snapshotTableBytes;
  }
  get bitmaps(): BitmapEntry[] {
    return this.tables.bitmaps;
  }
  /** Damage tolerated at open (the active disk stays readable); writes are refused while it is non-empty. */
  get openDamage(): string[] {
    return this.tables.openDamage;
  }
  /** Size of the image file as last seen; refreshed when a read falls short. */
  get fileSize(): number {
    return this.fileEnd.size;
  }
  /** Guest reads in progress (see readAt). */
  get activeReads(): number {
    return this.reads.inProgress;
  }
  get hasBacking(): boolean {
    return this.backing !== undefined;
  }

  setBackingDev(back: BlockLayer): void {
    this.backing = back;
  }

  l2CacheIsEmpty(): boolean {
    return this.cache.l2.size === 0;
  }

  refblockCacheIsEmpty(): boolean {
    return this.cache.refblocks.size === 0;
  }

  /** Writes back pending metadata, then drops the cached metadata to free memory (e.g. when idle). */
  shrinkCaches(): Promise<void> {
    return this.writes.exclusive(async () => {
      this.cache.dropClean();
      this.compressed.forget();
    });
  }

  /** Writes buf at guest offset `offset` (copy-on-write, allocation; see write/). Overlapping writes land in issue order. */
  async writeAt(buf: Uint8Array, offset: number): Promise<void> {
    this.checkWrite('write', offset, buf.length);
    return this.writes.write(buf, offset);
  }

  /** Makes a guest range read as zeros, with zero clusters where whole clusters are covered (see Qcow2Writer.submitZeroes). */
  async writeZeroes(offset: number, length: number): Promise<void> {
    this.checkWrite('zero write', offset, length);
    return this.writes.writeZeroes(offset, length);
  }

  /** Stores a compressed cluster for the unallocated guest cluster at `guest` (see Qcow2Writer.writeCompressed). */
  async writeCompressedCluster(guest: number, compressed: Uint8Array): Promise<void> {
    this.refuseWriteToView();
    if (!Number.isSafeInteger(guest) || guest < 0 || guest % this.info.clusterSize !== 0 || guest >= this.info.virtualSize) {
      throw new Qcow2Error('range', `compressed write at guest offset ${guest} is not a cluster inside the disk`, this.path);
    }
    return this.writes.writeCompressed(guest, compressed);
  }

  /** Creates internal snapshot `name` of the active disk, as qemu-img snapshot -c (write/snapshot-create.ts). */
  async createSnapshot(name: string, opts?: SnapshotCreateOptions): Promise<Snapshot> {
    this.refuseWriteToView();
    return this.writes.createSnapshot(name, opts);
  }

  /** Adds an empty persistent dirty bitmap, as qemu-img bitmap --add (write/bitmap-add.ts). */
  async addBitmap(name: string, opts: BitmapAddOptions = {}): Promise<BitmapEntry> {
    this.refuseWriteToView();
    return this.writes.addBitmap(name, opts);
  }

  /** Writes dirty L2/refcount metadata to disk in the crash-safe order. */
  flushMeta(): Promise<void> {
    return this.writes.exclusive(async () => undefined);
  }

  /** True when written data is not yet reachable from on-disk metadata (flushMeta pending). */
  needFlushMeta(): boolean {
    return this.writes.needsFlush;
  }

  /** Makes guest writes durable: metadata flushed in order, image and data file synced. The range is advisory. */
  fsyncRange(_offset: number, _length: number): Promise<void> {
    return this.writes.fsync();
  }

  /** Integrity check, and repair with `opts.repair`, as qemu-img check (check/check.ts). Runs alone: no write overlaps it. */
  check(opts: CheckOptions = {}): Promise<CheckResultEx> {
    return this.writes.exclusive(async () => {
      // A repair rewrites metadata behind the writer, which is then dropped: the tracked bitmaps are stored first.
      if (opts.repair) await this.writes.storeBitmaps();
      try {
        return await checkImage(this, opts);
      } finally {
        if (opts.repair) await this.reloadAfterRepair().catch(() => undefined); // a failed reload is retried by the next read
      }
    });
  }

  /** Host clusters by use: header, tables, data, free, leaked... (check/usage.ts). Runs alone, on flushed metadata. */
  clusterUsage(cb?: UsageCallback, opts?: UsageOptions): Promise<ClusterUsage> {
    return this.writes.exclusive(() => clusterUsage(this, cb, opts));
  }

  /** Loads the L1 table, refcount table, snapshot table and bitmap directory (format/load-tables.ts). Idempotent. */
  async prepIo(): Promise<void> {
    if (!this.tables.loaded) await this.tables.load(this.io, await this.fileEnd.reset());
  }

  /**
   * A read-only view of the disk as of internal snapshot `idOrName` (matched by id first, then by name, as QEMU),
   * read from the snapshot's L1 table with the snapshot's virtual size. It shares this image's files, backing chain
   * and lifetime: closing the view closes nothing.
   */
  async atSnapshot(idOrName: string, by: 'id' | 'name' | 'any' = 'any'): Promise<Qcow2Dev> {
    await this.prepIo();
    const { header, l1 } = await loadSnapshotTables(this.io, this.header, this.snapshots, this.fileEnd.size, idOrName, by);
    const view = new Qcow2Dev(this.path, header, { readOnly: true }, this.io);
    view.viewOf = this;
    view.tables.loadedForView(l1, this.tables.reftable);
    view.dataIo = this.dataIo;
    view.crypto = this.crypto;
    view.backing = this.backing;
    view.backingFormatProbed = this.backingFormatProbed;
    view.noteFileEnd(this.fileEnd.size);
    return view;
  }

  /** The internal snapshot this device shows, when it is a snapshot view. */
  get isSnapshotView(): boolean {
    return this.viewOf !== undefined;
  }

  /** The L2 table offset recorded in L1 entry `index` (0 when unallocated). */
  l2TableOffset(index: number): number {
    return this.tables.l2TableOffset(index);
  }

  /** Loads (or finds in cache) the L2 slice holding entry `l2Index` of the table at `l2Offset`. */
  l2Slice(l2Offset: number, l2Index: number): Promise<MetaSlice> {
    return this.cache.l2Slice(l2Offset, l2Index);
  }

  /** How this image alone maps guest bytes from `offset`: one run of same-kind, host-contiguous (sub)clusters. */
  blockStatus(offset: number, maxLength: number): Promise<LayerRun> {
    if (!this.tables.loaded) return this.prepIo().then(() => blockStatus(this, offset, maxLength));
    return blockStatus(this, offset, maxLength);
  }

  /** Where the data at `offset` comes from, following the backing chain. */
  getMapping(offset: number): Promise<Mapping> {
    return chainMapping(this, offset);
  }

  /** Reads guest bytes at `offset` into buf (read/guest-read.ts). Reads past the virtual size are an error. */
  async readAt(buf: Uint8Array, offset: number): Promise<number> {
    this.checkRange('read', offset, buf.length);
    return this.reads.read(buf, offset);
  }

  /** Reads guest data from the backing chain; past the backing file's end, zeros. */
  readBacking(dst: Uint8Array, offset: number): Promise<void> {
    return this.reads.backing(dst, offset);
  }

  /** Reads allocated data at `host` (image or data file), decrypted; `guest` is dst[0]'s guest offset (legacy AES needs it). */
  readHost(dst: Uint8Array, host: number, guest?: number): Promise<void> {
    return this.reads.host(dst, host, guest);
  }

  readCompressedCluster(range: CompressedRange): Promise<Uint8Array> {
    return this.compressed.read(range);
  }

  /**
   * Closes this image, its data file and its backing chain, once writes in flight are done, metadata is flushed and
   * the dirty bitmaps the writes marked are stored (write/bitmap-tracking.ts).
   */
  async close(): Promise<void> {
    if (this.viewOf) return; // the view borrows the files of the device it came from
    try {
      // Waits for the writes, then stores the tracked bitmaps (in use on disk until then).
      if (this.writes.started) await this.writes.exclusive(() => this.writes.storeBitmaps());
    } finally {
      await this.backing?.close();
      await this.dataIo?.close();
      await this.io.close();
    }
  }

  // WritableImage: the named changes the write path makes to the device's own state (the tables have theirs).
  forgetCompressed(): void {
    this.compressed.forget();
  }
  noteFileEnd(end: number): void {
    this.fileEnd.note(end);
  }

  private refuseWriteToView(): void {
    if (this.viewOf) throw new Qcow2Error('read-only', 'an internal snapshot is read-only', this.path);
  }

  private checkWrite(what: string, offset: number, length: number): void {
    this.refuseWriteToView();
    this.checkRange(what, offset, length);
  }

  /** Refuses a guest range that is not inside the disk. */
  private checkRange(what: string, offset: number, length: number): void {
    const size = this.info.virtualSize;
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > size) {
      throw new Qcow2Error('range', `${what} of ${length} bytes at offset ${offset} is beyond the virtual size ${size}`, this.path);
    }
  }

  /** A repair rewrote metadata behind the caches: drop them and the write state, and reload the tables. */
  private async reloadAfterRepair(): Promise<void> {
    this.writes.drop();
    this.tables.unload();
    this.cache.clear();
    this.cache.recycleBuffers = true;
    this.compressed.forget();
    Object.assign(this.info, deriveInfo(this.path, this.header, this.info.readOnly));
    await this.prepIo();
  }
}
