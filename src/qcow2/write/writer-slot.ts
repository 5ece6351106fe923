/**
 * The device's write side: its one lock and its writer, which the first write creates (after the first-write
 * checks) and a repair drops, and the write operations the device offers, once it has checked their range.
 * `exclusive` is how flush, check, usage and close run alone, as index.ts states.
 */
import type { BitmapEntry } from '../format/bitmaps';
import type { Snapshot } from '../format/snapshots';
import { EncryptedWrites } from '../crypto/encrypted-writes';
import { addBitmap, refuseBitmapAdd, type BitmapAddOptions } from './bitmap-add';
import { prepareFirstWrite } from './first-write-gate';
import { AsyncMutex } from './mutex';
import { createSnapshot, refuseSnapshotCreate, type SnapshotCreateOptions } from './snapshot-create';
import type { WritableImage } from './writable-image';
import { Qcow2Writer } from './writer';

/** The device as its write side sees it: a writable image that can also read its guest data. */
export interface WriteSlotImage extends WritableImage {
  readAt(buf: Uint8Array, offset: number): Promise<number>;
}

export class WriterSlot {
  /** The one lock of the write path: writes that change metadata, flushes, check, usage, close. */
  private readonly lock = new AsyncMutex();
  private writer?: Qcow2Writer;
  private pending?: Promise<Qcow2Writer>;
  /** Writes to an encrypted image: whole sectors, in issue order (crypto/encrypted-writes.ts). */
  private readonly encrypted = new EncryptedWrites({
    readAt: (buf, offset) => this.image.readAt(buf, offset),
    submit: async (buf, offset) => {
      const writer = this.writer ?? (await this.create());
      if (buf.length > 0) await writer.submit(buf, offset);
    },
    submitZeroes: async (offset, length) => {
      const writer = this.writer ?? (await this.create());
      if (length > 0) await writer.submitZeroes(offset, length);
    },
  });

  constructor(
    private readonly image: WriteSlotImage,
    /** Loads the image's tables (idempotent); run under the lock before the first write. */
    private readonly prepare: () => Promise<void>,
  ) {}

  /** True when written data is not yet reachable from on-disk metadata (a flush is pending). */
  get needsFlush(): boolean {
    return this.writer?.wb.pending ?? false;
  }

  /** A writer exists or is being created: there may be writes to wait for. */
  get started(): boolean {
    return this.writer !== undefined || this.pending !== undefined;
  }

  /** Writes buf at guest offset `offset`. Overlapping writes land in issue order. */
  async write(buf: Uint8Array, offset: number): Promise<void> {
    if (this.image.crypto) return this.encrypted.write(buf, offset);
    // No await before submit once the writer exists: concurrent writes keep their issue order.
    const writer = this.writer ?? (await this.create());
    if (buf.length === 0) return;
    await writer.submit(buf, offset);
  }

  /** Makes a guest range read as zeros (see Qcow2Writer.submitZeroes). */
  async writeZeroes(offset: number, length: number): Promise<void> {
    if (this.image.crypto) return this.encrypted.zero(offset, length);
    const writer = this.writer ?? (await this.create());
    if (length > 0) await writer.submitZeroes(offset, length);
  }

  /** Stores a compressed cluster for the unallocated guest cluster at `guest` (see Qcow2Writer.writeCompressed). */
  async writeCompressed(guest: number, compressed: Uint8Array): Promise<void> {
    const writer = this.writer ?? (await this.create());
    await writer.submitCompressed(guest, compressed);
  }

  /** Creates internal snapshot `name` of the active disk (snapshot-create.ts). */
  async createSnapshot(name: string, opts?: SnapshotCreateOptions): Promise<Snapshot> {
    await this.prepare();
    refuseSnapshotCreate(this.image, name);
    const writer = this.writer ?? (await this.create());
    return this.exclusive(() => createSnapshot(this.image, writer, name, opts));
  }

  /** Adds an empty persistent dirty bitmap (bitmap-add.ts). */
  async addBitmap(name: string, opts: BitmapAddOptions): Promise<BitmapEntry> {
    await this.prepare();
    refuseBitmapAdd(this.image, name, opts);
    const writer = this.writer ?? (await this.create());
    return this.exclusive(async () => {
      // While writes are tracked, an enabled new bitmap is tracked too (marked in use on disk from the start).
      const tracked = writer.bitmaps.isActive && !opts.disabled;
      if (tracked) writer.bitmaps.refuseAdd(name, refuseBitmapAdd(this.image, name, opts));
      const entry = await addBitmap(this.image, writer, name, { ...opts, inUse: tracked });
      if (tracked) await writer.bitmaps.adopt(entry);
      return entry;
    });
  }

  /** Stores the tracked bitmaps' bits (bitmap-tracking.ts); call under `exclusive`, before a repair and at close. */
  async storeBitmaps(): Promise<void> {
    if (this.writer) await this.writer.bitmaps.store(this.writer);
  }

  /** Syncs the files once metadata is flushed, when anything was written. */
  async fsync(): Promise<void> {
    if (!this.writer) return;
    await this.exclusive(async () => {
      await this.image.io.fsync();
      await this.image.dataIo?.fsync();
    });
  }

  /** Creates the writer once, under the lock (after the first-write checks); concurrent first writes share one creation. */
  private create(): Promise<Qcow2Writer> {
    this.pending ??= this.lock
      .run(async () => {
        if (this.writer) return this.writer;
        await this.prepare();
        this.image.cache.recycleBuffers = false; // a writer holds slices across awaits
        await prepareFirstWrite(this.image);
        this.writer = new Qcow2Writer(this.image, this.lock);
        return this.writer;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  /** Forgets the writer: a repair rewrote the metadata it caches. The next write creates a new one. */
  drop(): void {
    this.writer = undefined;
  }

  /**
   * Runs fn under the lock once every write issued before is done and its metadata flushed. First writes waiting
   * for the writer's creation queue for the lock when it is done: they go first (they were issued first).
   */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.pending) await this.pending.catch(() => undefined);
    return this.lock.run(async () => {
      if (this.writer) {
        await this.writer.settleInFlight();
        await this.writer.flush();
      }
      return fn();
    });
  }
}
