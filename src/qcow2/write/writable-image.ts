/**
 * What the write path may see and change of an open image. The device (Qcow2Dev) implements it; the write folder
 * knows only this interface, never the device class. Everything here is read-only except through named
 * mutators: the file end (noteFileEnd) here, the L1, refcount and snapshot tables, the bitmap directory and the
 * header fields that point at them in `tables` (format/image-tables.ts, their one owner), so every change to the
 * image's mutable metadata can be found by name.
 */
import type { MetadataCache } from '../cache/metadata-cache';
import type { BitmapEntry } from '../format/bitmaps';
import type { CompressedRange } from '../format/entries';
import type { Qcow2Header } from '../format/header';
import type { ImageTables } from '../format/image-tables';
import type { Qcow2Info } from '../format/info';
import type { Snapshot } from '../format/snapshots';
import type { Qcow2IoOps } from '../io/ops';
import type { MetaSlice } from '../cache/metadata-cache';
import type { ImageCrypto } from '../crypto/image-crypto';

export interface WritableImage {
  readonly path: string;
  readonly info: Qcow2Info;
  readonly header: Readonly<Qcow2Header>;
  readonly io: Qcow2IoOps;
  /** The external data file, when the image has one. */
  readonly dataIo?: Qcow2IoOps;
  /** The key of an encrypted image: data is encrypted for the host offset it is written at. */
  readonly crypto?: ImageCrypto;
  readonly hasBacking: boolean;
  readonly cache: MetadataCache;
  /** The active L1 table, as loaded and since changed through setL1Entry only. */
  readonly l1: Uint8Array;
  /** The refcount table, changed through setReftableEntry and switchReftable only. */
  readonly reftable: Uint8Array;
  readonly snapshots: readonly Snapshot[];
  readonly snapshotTableBytes: number;
  /** Damage the open tolerated (as qemu-img does) but that makes writing unsafe until a repair. */
  readonly openDamage: readonly string[];
  readonly bitmaps: readonly BitmapEntry[];
  /** The image file's size as last seen (noteFileEnd moves it forward). */
  readonly fileSize: number;
  /** Guest reads in progress: clusters released meanwhile are not freed (see MetaWriteback.flush). */
  readonly activeReads: number;

  /** The L2 table offset in L1 entry `index` (0 when unallocated). */
  l2TableOffset(index: number): number;
  l2Slice(l2Offset: number, l2Index: number): Promise<MetaSlice>;
  /** Reads allocated guest data at `host` (image or data file), decrypted. */
  readHost(dst: Uint8Array, host: number): Promise<void>;
  /** Reads guest data at `guest` from the backing chain (zeros past its end, or without one). */
  readBacking(dst: Uint8Array, guest: number): Promise<void>;
  readCompressedCluster(range: CompressedRange): Promise<Uint8Array>;
  /** Host bytes that held compressed clusters may be rewritten: drop the decompressed one kept for reads. */
  forgetCompressed(): void;

  /** The image file now reaches at least `end` (written, or extended by the next flush). */
  noteFileEnd(end: number): void;
  /** The image's tables and the header fields that point at them, changed through its named mutators only. */
  readonly tables: ImageTables;
}
