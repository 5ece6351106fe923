/**
 * Qcow2Dev: one qcow2 image, following the Qcow2Dev API of qcow2-rs (new, set_backing_dev, caches, fsync_range,
 * flush_meta, get_mapping, read_at, write_at, need_flush_meta, qcow2_cluster_usage, check, qcow2_prep_io).
 * It owns the image's state: the header, the L1 and refcount tables, the file end and the metadata cache. Each
 * concern lives in its own folder: mapping in read/, the write path in write/ (which sees this class only as a
 * WritableImage, and whose index states the concurrency contract this class enforces), check and usage in check/.
 */
import { isAligned } from './format/bytes';
import { badImage, printable, Qcow2Error } from './errors';
import { entryOffset, entryWords, firstL2PastEnd, type CompressedRange } from './format/entries';
import { parseHeader, readHeaderCluster, type FeatureBits, type Qcow2Header } from './format/header';
import type { BitmapsExtension } from './format/header-extensions';
import { deriveInfo, type Qcow2Info } from './format/info';
import { findSnapshot, readSnapshotTable, snapshotDamage, type Snapshot } from './format/snapshots';
import { bitmapConstraintProblem, readBitmapDirectory, type BitmapEntry } from './format/bitmaps';
import { readFully, type Qcow2IoOps } from './io/ops';
import { FileEnd } from './io/file-end';
import { DEFAULT_L2_CACHE_SLICES, DEFAULT_REFBLOCK_CACHE_SLICES, MetadataCache, type MetaSlice } from './cache/metadata-cache';
import { blockStatus } from './read/block-status';
import { chainMapping, type Mapping } from './read/mapping';
import { CompressedClusterReader } from './read/compressed-reader';
import type { BlockLayer, LayerRun } from './layer';
import { AsyncMutex, prepareFirstWrite, Qcow2Writer, type WritableImage } from './write';
import { addBitmap, refuseBitmapAdd, type BitmapAddOptions } from './write/bitmap-add';
import { createSnapshot, refuseSnapshotCreate, type SnapshotCreateOptions } from './write/snapshot-create';
import { checkImage, type CheckOptions, type CheckResultEx } from './check/check';
import { openImageCrypto, type EncryptionKey, type ImageCrypto } from './crypto/image-crypto';
import { SECTOR } from './crypto/sector-cipher';
import { EncryptedWrites } from './crypto/encrypted-writes';
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
export class Qcow2Dev implements BlockLayer, WritableImage {
  readonly format = 'qcow2' as const;
  readonly info: Qcow2Info;
  /** External data file, when the image has one. */
  dataIo?: Qcow2IoOps;
  /** Why the external data file is not open (set when opened with dataFileOptional); guest data is then refused. */
  dataFileError?: string;
  backing?: BlockLayer;
  /** True when the backing format was not recorded and we probed it. */
  backingFormatProbed = false;
  snapshots: Snapshot[] = [];
  snapshotTableBytes = 0;
  /** Damage tolerated at open (the active disk stays readable); writes are refused while it is non-empty. */
  openDamage: string[] = [];
  bitmaps: BitmapEntry[] = [];
  /** The unlocked key of an encrypted image: data clusters are decrypted on read and encrypted on write. */
  crypto?: ImageCrypto;
  readonly cache: MetadataCache;
  /** The one lock of the write path (write/index.ts): writes that change metadata, flushes, check, usage, close. */
  private readonly lock = new AsyncMutex();
  private readonly fileEnd: FileEnd;
  private readonly compressed: CompressedClusterReader;
  private l1Table: Uint8Array = new Uint8Array(0);
  private refcountTable: Uint8Array = new Uint8Array(0);
  private prepared = false;
  /** The write path, created by the first write. */
  private writer?: Qcow2Writer;
  private writerPending?: Promise<Qcow2Writer>;
  private reads = 0;
  /** Writes to an encrypted image: whole sectors, in issue order (crypto/encrypted-writes.ts). */
  private readonly encryptedWrites = new EncryptedWrites({
    readAt: (buf, offset) => this.readAt(buf, offset),
    submit: async (buf, offset) => {
      const writer = this.writer ?? (await this.getWriter());
      if (buf.length > 0) await writer.submit(buf, offset);
    },
    submitZeroes: async (offset, length) => {
      const writer = this.writer ?? (await this.getWriter());
      if (length > 0) await writer.submitZeroes(offset, length);
    },
  });
  /** Set on a read-only view of an internal snapshot: the device whose files and backing chain it shares. */
  private viewOf?: Qcow2Dev;

  constructor(
    readonly path: string,
    public header: Qcow2Header,
    params: Qcow2DevParams,
    readonly io: Qcow2IoOps,
  ) {
    this.info = deriveInfo(path, header, params.readOnly ?? io.readOnly);
    this.fileEnd = new FileEnd(io);
    this.cache = new MetadataCache(
      io,
      this.info,
      this.fileEnd,
      params.l2CacheSlices ?? DEFAULT_L2_CACHE_SLICES,
      params.refblockCacheSlices ?? DEFAULT_REFBLOCK_CACHE_SLICES,
    );
    this.compressed = new CompressedClusterReader(io, this.fileEnd, this.info.clusterSize, header.compressionType, path);
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
    if (dev.header.cryptMethod === 2 && !dev.header.extensions.crypto) {
      // (qemu-img info crashes on such a file.)
      throw badImage(io.path, 'image is encrypted (LUKS) but has no encryption header extension');
    }
    if (dev.header.cryptMethod !== 0 && params.encryptionKey) {
      dev.crypto = await openImageCrypto(io, dev.header, fileSize, params.encryptionKey, io.path);
    }
    return dev;
  }

  get virtualSize(): number {
    return this.info.virtualSize;
  }
  get l1(): Uint8Array {
    return this.l1Table;
  }
  get reftable(): Uint8Array {
    return this.refcountTable;
  }
  /** Size of the image file as last seen; refreshed when a read falls short. */
  get fileSize(): number {
    return this.fileEnd.size;
  }
  /** Guest reads in progress (see readAt). */
  get activeReads(): number {
    return this.reads;
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
    return this.exclusive(async () => {
      this.cache.dropClean();
      this.compressed.forget();
    });
  }

  /** Writes buf at guest offset `offset` (copy-on-write, allocation; see write/). Overlapping writes land in issue order. */
  async writeAt(buf: Uint8Array, offset: number): Promise<void> {
    this.refuseWriteToView();
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + buf.length > this.info.virtualSize) {
      throw new Qcow2Error('range', `write of ${buf.length} bytes at offset ${offset} is beyond the virtual size ${this.info.virtualSize}`, this.path);
    }
    if (this.crypto) return this.encryptedWrites.write(buf, offset);
    // No await before submit once the writer exists: concurrent writes keep their issue order.
    const writer = this.writer ?? (await this.getWriter());
    if (buf.length === 0) return;
    await writer.submit(buf, offset);
  }

  /** Makes a guest range read as zeros, with zero clusters where whole clusters are covered (see Qcow2Writer.submitZeroes). */
  async writeZeroes(offset: number, length: number): Promise<void> {
    this.refuseWriteToView();
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > this.info.virtualSize) {
      throw new Qcow2Error('range', `zero write of ${length} bytes at offset ${offset} is beyond the virtual size ${this.info.virtualSize}`, this.path);
    }
    if (this.crypto) return this.encryptedWrites.zero(offset, length);
    const writer = this.writer ?? (await this.getWriter());
    if (length > 0) await writer.submitZeroes(offset, length);
  }

  /** Stores a compressed cluster for the unallocated guest cluster at `guest` (see Qcow2Writer.writeCompressed). */
  async writeCompressedCluster(guest: number, compressed: Uint8Array): Promise<void> {
    this.refuseWriteToView();
    if (!Number.isSafeInteger(guest) || guest < 0 || guest % this.info.clusterSize !== 0 || guest >= this.info.virtualSize) {
      throw new Qcow2Error('range', `compressed write at guest offset ${guest} is not a cluster inside the disk`, this.path);
    }
    const writer = this.writer ?? (await this.getWriter());
    await writer.submitCompressed(guest, compressed);
  }

  /** Creates internal snapshot `name` of the active disk, as qemu-img snapshot -c (write/snapshot-create.ts). */
  async createSnapshot(name: string, opts?: SnapshotCreateOptions): Promise<Snapshot> {
    this.refuseWriteToView();
    await this.prepIo();
    refuseSnapshotCreate(this, name);
    const writer = this.writer ?? (await this.getWriter());
    return this.exclusive(() => createSnapshot(this, writer, name, opts));
  }

  /** Adds an empty persistent dirty bitmap, as qemu-img bitmap --add (write/bitmap-add.ts). */
  async addBitmap(name: string, opts: BitmapAddOptions = {}): Promise<BitmapEntry> {
    this.refuseWriteToView();
    await this.prepIo();
    refuseBitmapAdd(this, name, opts);
    const writer = this.writer ?? (await this.getWriter());
    return this.exclusive(async () => {
      // While writes are tracked, an enabled new bitmap is tracked too (marked in use on disk from the start).
      const tracked = writer.bitmaps.isActive && !opts.disabled;
      if (tracked) writer.bitmaps.refuseAdd(name, refuseBitmapAdd(this, name, opts));
      const entry = await addBitmap(this, writer, name, { ...opts, inUse: tracked });
      if (tracked) await writer.bitmaps.adopt(entry);
      return entry;
    });
  }

  /** Writes dirty L2/refcount metadata to disk in the crash-safe order. */
  flushMeta(): Promise<void> {
    return this.exclusive(async () => undefined);
  }

  /** True when written data is not yet reachable from on-disk metadata (flushMeta pending). */
  needFlushMeta(): boolean {
    return this.writer?.wb.pending ?? false;
  }

  /** Makes guest writes durable: metadata flushed in order, image and data file synced. The range is advisory. */
  async fsyncRange(_offset: number, _length: number): Promise<void> {
    if (!this.writer) return;
    await this.exclusive(async () => {
      await this.io.fsync();
      await this.dataIo?.fsync();
    });
  }

  /** Integrity check, and repair with `opts.repair`, as qemu-img check (check/check.ts). Runs alone: no write overlaps it. */
  check(opts: CheckOptions = {}): Promise<CheckResultEx> {
    return this.exclusive(async () => {
      // A repair rewrites metadata behind the writer, which is then dropped: the tracked bitmaps are stored first.
      if (opts.repair && this.writer) await this.writer.bitmaps.store(this.writer);
      try {
        return await checkImage(this, opts);
      } finally {
        if (opts.repair) await this.reloadAfterRepair().catch(() => undefined); // a failed reload is retried by the next read
      }
    });
  }

  /** Host clusters by use: header, tables, data, free, leaked... (check/usage.ts). Runs alone, on flushed metadata. */
  clusterUsage(cb?: UsageCallback, opts?: UsageOptions): Promise<ClusterUsage> {
    return this.exclusive(() => clusterUsage(this, cb, opts));
  }

  /** Loads the L1 table, refcount table, snapshot table and bitmap directory. Idempotent. */
  async prepIo(): Promise<void> {
    if (this.prepared) return;
    this.openDamage.length = 0; // found afresh: after a repair (reloadAfterRepair) what was fixed is gone
    const h = this.header;
    const fileSize = await this.fileEnd.reset();
    const l1 = new Uint8Array(h.l1Size * 8);
    if ((await readFully(this.io, l1, h.l1TableOffset)) < l1.length) throw badImage(this.path, 'L1 table lies beyond the end of the file');
    const reftable = new Uint8Array(h.refcountTableClusters * this.info.clusterSize);
    if ((await readFully(this.io, reftable, h.refcountTableOffset)) < reftable.length)
      throw badImage(this.path, 'refcount table lies beyond the end of the file');
    // As qemu-img, a snapshot table starting past the end of the file does not block the active disk; check reports it.
    const snaps = await readSnapshotTable(this.io, h.snapshotsOffset, h.nbSnapshots, fileSize, this.info.clusterSize).catch((err: unknown) => {
      if (!(err instanceof Qcow2Error) || h.snapshotsOffset < fileSize) throw err; // a table cut short is refused, as qemu-img does
      this.openDamage.push('snapshot table lies beyond the end of the file');
      return { snapshots: [], byteLength: 0 };
    });
    const l2PastEnd = firstL2PastEnd(l1, this.info.clusterSize, fileSize);
    if (l2PastEnd !== undefined) this.openDamage.push(`L2 table at 0x${l2PastEnd.toString(16)} lies beyond the end of the file (read as zeros)`);
    this.l1Table = l1;
    this.refcountTable = reftable;
    this.openDamage.push(...snapshotDamage(snaps.snapshots, fileSize));
    this.snapshots = snaps.snapshots;
    this.snapshotTableBytes = snaps.byteLength;
    if (h.extensions.bitmaps) this.bitmaps = await readBitmapDirectory(this.io, h.extensions.bitmaps, fileSize);
    for (const b of this.bitmaps) {
      const problem = bitmapConstraintProblem(b);
      if (problem) this.openDamage.push(problem);
    }
    this.prepared = true;
  }

  /**
   * A read-only view of the disk as of internal snapshot `idOrName` (matched by id first, then by name, as QEMU),
   * read from the snapshot's L1 table with the snapshot's virtual size. It shares this image's files, backing chain
   * and lifetime: closing the view closes nothing.
   */
  async atSnapshot(idOrName: string, by: 'id' | 'name' | 'any' = 'any'): Promise<Qcow2Dev> {
    await this.prepIo();
    const snap = findSnapshot(this.snapshots, idOrName, by);
    if (!snap) throw new Qcow2Error('range', `snapshot '${printable(idOrName, 80)}' not found`, this.path);
    if (snap.damage) throw badImage(this.path, snap.damage);
    const l1Bytes = snap.l1Size * 8;
    if (snap.l1TableOffset + l1Bytes > this.fileEnd.size) {
      throw badImage(this.path, `snapshot ${printable(snap.id, 40)} L1 table lies beyond the end of the file`);
    }
    // Old snapshots without disk_size in their extra data have the image's current size, as in QEMU.
    const header: Qcow2Header = {
      ...this.header,
      size: snap.diskSize ?? this.header.size,
      l1Size: snap.l1Size,
      l1TableOffset: snap.l1TableOffset,
      nbSnapshots: 0,
      snapshotsOffset: 0,
    };
    const view = new Qcow2Dev(this.path, header, { readOnly: true }, this.io);
    const l1 = new Uint8Array(l1Bytes);
    if ((await readFully(this.io, l1, snap.l1TableOffset)) < l1.length)
      throw badImage(this.path, `snapshot ${printable(snap.id, 40)} L1 table lies beyond the end of the file`);
    view.viewOf = this;
    view.l1Table = l1;
    view.refcountTable = this.refcountTable;
    view.dataIo = this.dataIo;
    view.crypto = this.crypto;
    view.backing = this.backing;
    view.backingFormatProbed = this.backingFormatProbed;
    view.noteFileEnd(this.fileEnd.size);
    view.prepared = true;
    return view;
  }

  /** The internal snapshot this device shows, when it is a snapshot view. */
  get isSnapshotView(): boolean {
    return this.viewOf !== undefined;
  }

  /** The L2 table offset recorded in L1 entry `index` (0 when unallocated). */
  l2TableOffset(index: number): number {
    if (index >= this.info.l1Size) return 0;
    const [hi, lo] = entryWords(this.l1Table, index * 8);
    const off = entryOffset(hi, lo);
    if (off !== 0 && !isAligned(off, this.info.clusterSize)) {
      throw badImage(this.path, `L1 entry ${index} points to unaligned L2 table offset 0x${off.toString(16)}`);
    }
    return off;
  }

  /** Loads (or finds in cache) the L2 slice holding entry `l2Index` of the table at `l2Offset`. */
  l2Slice(l2Offset: number, l2Index: number): Promise<MetaSlice> {
    return this.cache.l2Slice(l2Offset, l2Index);
  }

  /** How this image alone maps guest bytes from `offset`: one run of same-kind, host-contiguous (sub)clusters. */
  blockStatus(offset: number, maxLength: number): Promise<LayerRun> {
    if (!this.prepared) return this.prepIo().then(() => blockStatus(this, offset, maxLength));
    return blockStatus(this, offset, maxLength);
  }

  /** Where the data at `offset` comes from, following the backing chain. */
  getMapping(offset: number): Promise<Mapping> {
    return chainMapping(this, offset);
  }

  /** Reads guest bytes at `offset` into buf. Reads past the virtual size are an error. */
  async readAt(buf: Uint8Array, offset: number): Promise<number> {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + buf.length > this.info.virtualSize) {
      throw new Qcow2Error('range', `read of ${buf.length} bytes at offset ${offset} is beyond the virtual size ${this.info.virtualSize}`, this.path);
    }
    // While reads run, clusters released by writes are not freed (a read may still be using the old mapping).
    this.reads++;
    try {
      let pos = 0;
      while (pos < buf.length) {
        const at = offset + pos;
        const run = await this.blockStatus(at, buf.length - pos);
        const dst = buf.subarray(pos, pos + run.length);
        if (run.kind === 'data') await this.readHost(dst, run.hostOffset!, at);
        else if (run.kind === 'zero') dst.fill(0);
        else if (run.kind === 'unallocated') await this.readBacking(dst, at);
        else if (this.header.cryptMethod !== 0) {
          // QEMU never writes compressed clusters into encrypted images; one found here is refused, not guessed at.
          throw badImage(this.path, `compressed cluster at guest offset 0x${at.toString(16)} in an encrypted image`);
        } else {
          const cluster = await this.compressed.read(run.compressed!);
          const inCluster = at % this.info.clusterSize;
          dst.set(cluster.subarray(inCluster, inCluster + dst.length));
        }
        pos += run.length;
      }
      return buf.length;
    } finally {
      this.reads--;
    }
  }

  /** Reads guest data from the backing chain; past the backing file's end, zeros. */
  async readBacking(dst: Uint8Array, offset: number): Promise<void> {
    const back = this.backing;
    const n = back ? Math.max(0, Math.min(dst.length, back.virtualSize - offset)) : 0;
    if (n > 0) await back!.readAt(dst.subarray(0, n), offset);
    dst.fill(0, n);
  }

  /**
   * Reads allocated data from the image (or its external data file), decrypted in an encrypted image: the
   * enclosing 512-byte sectors are read and deciphered with their host (LUKS) or guest (legacy AES) sector
   * numbers. `guest` is the guest offset of dst[0], needed for legacy AES only.
   */
  async readHost(dst: Uint8Array, host: number, guest?: number): Promise<void> {
    if (this.info.hasDataFile && !this.dataIo) {
      throw new Qcow2Error('backing', this.dataFileError ?? 'the external data file is not open', this.viewOf?.path ?? this.path);
    }
    const crypto = this.crypto;
    if (!crypto && this.header.cryptMethod !== 0) {
      const kind = this.header.cryptMethod === 1 ? 'AES' : 'LUKS';
      throw new Qcow2Error('unsupported', `image is encrypted (${kind}); guest data cannot be read without a passphrase`, this.path);
    }
    if (!crypto) return this.readPlain(dst, host);
    if (!crypto.physical && guest === undefined) throw new Qcow2Error('unsupported', 'legacy AES data read without its guest offset', this.path);
    const lead = host % SECTOR;
    const sectors = new Uint8Array(Math.ceil((lead + dst.length) / SECTOR) * SECTOR);
    await this.readPlain(sectors, host - lead);
    crypto.decrypt(sectors, (crypto.physical ? host : guest!) - lead);
    dst.set(sectors.subarray(lead, lead + dst.length));
  }

  private async readPlain(dst: Uint8Array, host: number): Promise<void> {
    const io = this.dataIo ?? this.io;
    const n = await readFully(io, dst, host);
    if (n < dst.length) {
      // The write path may have allocated past the file's current end (extended at the next flush).
      if (io === this.io && host >= (await this.fileEnd.refresh())) {
        throw badImage(this.path, `data cluster at 0x${host.toString(16)} lies beyond the end of the file`);
      }
      dst.fill(0, n); // a short last cluster (or a sparse data file) reads as zeros, as in QEMU
    }
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
      if (this.writer || this.writerPending) await this.exclusive(async () => this.writer?.bitmaps.store(this.writer));
    } finally {
      await this.backing?.close();
      await this.dataIo?.close();
      await this.io.close();
    }
  }

  // WritableImage: the named changes the write path makes to this image's state.
  forgetCompressed(): void {
    this.compressed.forget();
  }
  noteFileEnd(end: number): void {
    this.fileEnd.note(end);
  }
  setL1Entry(index: number, hi: number, lo: number): void {
    const view = new DataView(this.l1Table.buffer, this.l1Table.byteOffset);
    view.setUint32(index * 8, hi);
    view.setUint32(index * 8 + 4, lo);
  }
  setReftableEntry(index: number, entry: Uint8Array): void {
    this.refcountTable.set(entry, index * 8);
  }
  switchReftable(table: Uint8Array, offset: number, clusters: number): void {
    this.refcountTable = table;
    this.header.refcountTableOffset = offset;
    this.header.refcountTableClusters = clusters;
  }
  switchSnapshotTable(snapshots: Snapshot[], offset: number, byteLength: number): void {
    this.snapshots = snapshots;
    this.snapshotTableBytes = byteLength;
    this.header.nbSnapshots = snapshots.length;
    this.header.snapshotsOffset = offset;
  }
  bitmapsAdded(bitmaps: BitmapEntry[], ext: BitmapsExtension, autoclear: FeatureBits, backingFileOffset: number): void {
    this.bitmaps = bitmaps;
    this.header.extensions.bitmaps = ext;
    this.header.autoclearFeatures = autoclear;
    this.header.backingFileOffset = backingFileOffset;
  }
  switchBitmapDirectory(bitmaps: BitmapEntry[], ext: BitmapsExtension): void {
    this.bitmaps = bitmaps;
    this.header.extensions.bitmaps = ext;
  }
  setAutoclearFeatures(bits: FeatureBits): void {
    this.header.autoclearFeatures = bits;
  }

  /**
   * Runs fn under the lock once every write issued before is done and its metadata flushed. First writes waiting
   * for the writer's creation queue for the lock when it is done: they go first (they were issued first).
   */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.writerPending) await this.writerPending.catch(() => undefined);
    return this.lock.run(async () => {
      if (this.writer) {
        await this.writer.settleInFlight();
        await this.writer.flush();
      }
      return fn();
    });
  }

  private refuseWriteToView(): void {
    if (this.viewOf) throw new Qcow2Error('read-only', 'an internal snapshot is read-only', this.path);
  }

  /** The writer, created once under the lock (after the first-write checks); concurrent first writes share one creation. */
  private getWriter(): Promise<Qcow2Writer> {
    this.writerPending ??= this.lock
      .run(async () => {
        if (this.writer) return this.writer;
        await this.prepIo();
        this.cache.recycleBuffers = false; // a writer holds slices across awaits
        await prepareFirstWrite(this);
        this.writer = new Qcow2Writer(this, this.lock);
        return this.writer;
      })
      .finally(() => {
        this.writerPending = undefined;
      });
    return this.writerPending;
  }

  /** A repair rewrote metadata behind the caches: drop them and the write state, and reload the tables. */
  private async reloadAfterRepair(): Promise<void> {
    this.writer = undefined;
    this.prepared = false;
    this.cache.clear();
    this.cache.recycleBuffers = true;
    this.compressed.forget();
    Object.assign(this.info, deriveInfo(this.path, this.header, this.info.readOnly));
    await this.prepIo();
  }
}
