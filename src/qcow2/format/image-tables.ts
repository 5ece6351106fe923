/**
 * An image's tables: the active L1 table, the refcount table, the snapshot table and the bitmap directory, loaded
 * from disk (qcow2-rs's qcow2_prep_io) with the damage an open tolerates as qemu-img does, and the header fields
 * that point at them. ImageTables is their one owner: the write path changes them through its named mutators only.
 * Also the L1 table of an internal snapshot, for a read-only view of it.
 */
import { badImage, printable, Qcow2Error } from '../errors';
import { readFully, type Qcow2IoOps } from '../io/ops';
import { isAligned } from './bytes';
import { entryOffset, entryWords, firstL2PastEnd } from './entries';
import type { FeatureBits, Qcow2Header } from './header';
import type { BitmapsExtension } from './header-extensions';
import type { Qcow2Info } from './info';
import { findSnapshot, readSnapshotTable, snapshotDamage, type Snapshot } from './snapshots';
import { bitmapConstraintProblem, readBitmapDirectory, type BitmapEntry } from './bitmaps';

export interface LoadedTables {
  l1: Uint8Array;
  reftable: Uint8Array;
  snapshots: Snapshot[];
  snapshotTableBytes: number;
  bitmaps: BitmapEntry[];
  /** Damage tolerated at open: the active disk stays readable, writes are refused until a repair. */
  damage: string[];
}

/** Reads the tables `h` points at, in a file of `fileSize` bytes. */
export async function loadTables(io: Qcow2IoOps, h: Qcow2Header, info: Qcow2Info, fileSize: number): Promise<LoadedTables> {
  const path = io.path;
  const damage: string[] = [];
  const l1 = new Uint8Array(h.l1Size * 8);
  if ((await readFully(io, l1, h.l1TableOffset)) < l1.length) throw badImage(path, 'L1 table lies beyond the end of the file');
  const reftable = new Uint8Array(h.refcountTableClusters * info.clusterSize);
  if ((await readFully(io, reftable, h.refcountTableOffset)) < reftable.length) throw badImage(path, 'refcount table lies beyond the end of the file');
  // As qemu-img, a snapshot table starting past the end of the file does not block the active disk; check reports it.
  const snaps = await readSnapshotTable(io, h.snapshotsOffset, h.nbSnapshots, fileSize, info.clusterSize).catch((err: unknown) => {
    if (!(err instanceof Qcow2Error) || h.snapshotsOffset < fileSize) throw err; // a table cut short is refused, as qemu-img does
    damage.push('snapshot table lies beyond the end of the file');
    return { snapshots: [], byteLength: 0 };
  });
  const l2PastEnd = firstL2PastEnd(l1, info.clusterSize, fileSize);
  if (l2PastEnd !== undefined) damage.push(`L2 table at 0x${l2PastEnd.toString(16)} lies beyond the end of the file (read as zeros)`);
  damage.push(...snapshotDamage(snaps.snapshots, fileSize));
  const bitmaps = h.extensions.bitmaps ? await readBitmapDirectory(io, h.extensions.bitmaps, fileSize) : [];
  for (const b of bitmaps) {
    const problem = bitmapConstraintProblem(b);
    if (problem) damage.push(problem);
  }
  return { l1, reftable, snapshots: snaps.snapshots, snapshotTableBytes: snaps.byteLength, bitmaps, damage };
}

export interface SnapshotTables {
  /** The image's header as the snapshot sees it: its L1 table and virtual size, no snapshots of its own. */
  header: Qcow2Header;
  l1: Uint8Array;
}

/**
 * The header and L1 table of internal snapshot `idOrName` (matched by id first, then by name, as QEMU), for a
 * read-only view of the disk as of that snapshot.
 */
export async function loadSnapshotTables(
  io: Qcow2IoOps,
  header: Qcow2Header,
  snapshots: readonly Snapshot[],
  fileSize: number,
  idOrName: string,
  by: 'id' | 'name' | 'any',
): Promise<SnapshotTables> {
  const path = io.path;
  const snap = findSnapshot(snapshots, idOrName, by);
  if (!snap) throw new Qcow2Error('range', `snapshot '${printable(idOrName, 80)}' not found`, path);
  if (snap.damage) throw badImage(path, snap.damage);
  const l1Bytes = snap.l1Size * 8;
  const pastEnd = () => badImage(path, `snapshot ${printable(snap.id, 40)} L1 table lies beyond the end of the file`);
  if (snap.l1TableOffset + l1Bytes > fileSize) throw pastEnd();
  // Old snapshots without disk_size in their extra data have the image's current size, as in QEMU.
  const viewHeader: Qcow2Header = {
    ...header,
    size: snap.diskSize ?? header.size,
    l1Size: snap.l1Size,
    l1TableOffset: snap.l1TableOffset,
    nbSnapshots: 0,
    snapshotsOffset: 0,
  };
  const l1 = new Uint8Array(l1Bytes);
  if ((await readFully(io, l1, snap.l1TableOffset)) < l1.length) throw pastEnd();
  return { header: viewHeader, l1 };
}

export class ImageTables {
  private l1Table: Uint8Array = new Uint8Array(0);
  private refcountTable: Uint8Array = new Uint8Array(0);
  private snapshotList: Snapshot[] = [];
  private snapshotBytes = 0;
  private bitmapList: BitmapEntry[] = [];
  private isLoaded = false;
  /** Damage tolerated at open (the active disk stays readable); writes are refused while it is non-empty. */
  readonly openDamage: string[] = [];

  /** `header` and `info` are the device's own objects: the mutators below keep the header's table pointers current. */
  constructor(
    private readonly path: string,
    private readonly header: Qcow2Header,
    private readonly info: Qcow2Info,
  ) {}

  get loaded(): boolean {
    return this.isLoaded;
  }
  /** The active L1 table, as loaded and since changed through setL1Entry only. */
  get l1(): Uint8Array {
    return this.l1Table;
  }
  /** The refcount table, changed through setReftableEntry and switchReftable only. */
  get reftable(): Uint8Array {
    return this.refcountTable;
  }
  get snapshots(): Snapshot[] {
    return this.snapshotList;
  }
  get snapshotTableBytes(): number {
    return this.snapshotBytes;
  }
  get bitmaps(): BitmapEntry[] {
    return this.bitmapList;
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

  /** Reads the tables the header points at, in a file of `fileSize` bytes; damage is found afresh. */
  async load(io: Qcow2IoOps, fileSize: number): Promise<void> {
    this.openDamage.length = 0; // after a repair, what was fixed is gone
    const t = await loadTables(io, this.header, this.info, fileSize);
    this.l1Table = t.l1;
    this.refcountTable = t.reftable;
    this.openDamage.push(...t.damage);
    this.snapshotList = t.snapshots;
    this.snapshotBytes = t.snapshotTableBytes;
    if (this.header.extensions.bitmaps) this.bitmapList = t.bitmaps;
    this.isLoaded = true;
  }

  /** The tables of a snapshot view: the snapshot's L1 table and the image's refcount table, nothing else. */
  loadedForView(l1: Uint8Array, reftable: Uint8Array): void {
    this.l1Table = l1;
    this.refcountTable = reftable;
    this.isLoaded = true;
  }

  /** A repair rewrote the tables on disk: the next load reads them again. */
  unload(): void {
    this.isLoaded = false;
  }

  // The named changes the write path makes (write/writable-image.ts).
  /** Sets L1 entry `index` in memory (MetaWriteback writes it back). */
  setL1Entry(index: number, hi: number, lo: number): void {
    const view = new DataView(this.l1Table.buffer, this.l1Table.byteOffset);
    view.setUint32(index * 8, hi);
    view.setUint32(index * 8 + 4, lo);
  }
  /** Sets refcount-table entry `index` in memory, once it is on disk. */
  setReftableEntry(index: number, entry: Uint8Array): void {
    this.refcountTable.set(entry, index * 8);
  }
  /** The header now points at a new refcount table (already on disk and synced). */
  switchReftable(table: Uint8Array, offset: number, clusters: number): void {
    this.refcountTable = table;
    this.header.refcountTableOffset = offset;
    this.header.refcountTableClusters = clusters;
  }
  /** The header now points at a new snapshot table (already on disk and synced) holding `snapshots`. */
  switchSnapshotTable(snapshots: Snapshot[], offset: number, byteLength: number): void {
    this.snapshotList = snapshots;
    this.snapshotBytes = byteLength;
    this.header.nbSnapshots = snapshots.length;
    this.header.snapshotsOffset = offset;
  }
  /** The header now has the bitmaps extension `ext` (on disk and synced), with autoclear bits and the backing name's new offset. */
  bitmapsAdded(bitmaps: BitmapEntry[], ext: BitmapsExtension, autoclear: FeatureBits, backingFileOffset: number): void {
    this.bitmapList = bitmaps;
    this.header.extensions.bitmaps = ext;
    this.header.autoclearFeatures = autoclear;
    this.header.backingFileOffset = backingFileOffset;
  }
  /** The bitmaps extension now names a new directory (on disk and synced) holding `bitmaps`. */
  switchBitmapDirectory(bitmaps: BitmapEntry[], ext: BitmapsExtension): void {
    this.bitmapList = bitmaps;
    this.header.extensions.bitmaps = ext;
  }
  /** The header's autoclear bits are now `bits` on disk. */
  setAutoclearFeatures(bits: FeatureBits): void {
    this.header.autoclearFeatures = bits;
  }
}
