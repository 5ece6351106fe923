/**
 * Creating an internal snapshot (`qemu-img snapshot -c NAME`), the way QEMU's qcow2_snapshot_create and
 * qcow2_update_snapshot_refcount (block/qcow2-snapshot.c, block/qcow2-refcount.c) do it:
 *   1. every L2 table and every host cluster the active L1/L2 references gains one reference (normal and
 *      allocated zero clusters: their cluster; compressed clusters: every host cluster their bytes touch);
 *      COPIED is cleared in the L2 and L1 entries whose refcount is now above 1;
 *   2. written back in QEMU's order: refcount blocks synced, then the L2 slices, synced, then the L1 (MetaWriteback);
 *   3. a copy of the active L1 goes into new clusters, and a new snapshot table (the old entries verbatim, plus the
 *      new one with 24 bytes of extra data) into others; refcounts, the copy and the table are synced;
 *   4. one 12-byte header write switches nb_snapshots and snapshots_offset together (adjacent at 60 and 64), synced;
 *   5. the old table's clusters are freed.
 * The caller holds the device's lock with no metadata pending (Qcow2Dev.createSnapshot).
 *
 * A power cut before step 4 leaves the image without the snapshot and the guest data unchanged, but (as QEMU's own
 * order does) with leaked clusters, and, when it falls between a refcount block write and the L2 slice write that
 * follows, L2/L1 entries whose COPIED flag is set though their refcount is 2: `qemu-img check` reports these as
 * "ERROR OFLAG_COPIED" corruptions, and `qemu-img check -r all` repairs them. Nothing is ever referenced with a
 * refcount that is too low, so no write can overwrite shared data.
 */
import { setU16, setU32, setU64, u32 } from '../format/bytes';
import { COPIED_HI, decodeL2Entry, entryWords, l2EntryError } from '../format/entries';
import { MAX_SNAPSHOT_TABLE_BYTES, type Snapshot } from '../format/snapshots';
import { writeSnapshotTablePointer } from '../format/header-write';
import { badImage, printable, Qcow2Error } from '../errors';
import { readFully } from '../io/ops';
import type { Qcow2Writer } from './writer';
import type { WritableImage } from './writable-image';

/** QEMU's QCOW_MAX_SNAPSHOTS. */
export const MAX_SNAPSHOTS = 65536;
/** qemu-img copies the name into QEMUSnapshotInfo.name[256]: longer names are cut to 255 bytes. */
const MAX_NAME_BYTES = 255;
/** vm_state_size_large, disk_size, icount. */
const EXTRA_BYTES = 24;

export interface SnapshotCreateOptions {
  /** The snapshot's date; default now. */
  date?: Date;
}

/** What QEMU refuses before it changes anything (also checked by the device before it starts a writer). */
export function refuseSnapshotCreate(dev: Pick<WritableImage, 'info' | 'path' | 'snapshots'>, name: string): void {
  const fail = (code: 'unsupported' | 'limit', why: string) => new Qcow2Error(code, `Could not create snapshot '${printable(name)}': ${why}`, dev.path);
  // qemu-img: "Could not create snapshot 'NAME': -95 (Operation not supported)".
  if (dev.info.hasDataFile) throw fail('unsupported', 'Operation not supported (internal snapshots cannot be made in an image with an external data file)');
  if (dev.snapshots.length >= MAX_SNAPSHOTS) throw fail('limit', `the maximum number of snapshots is ${MAX_SNAPSHOTS}`);
}

/** Creates internal snapshot `name` of the active disk; returns its table entry. */
export async function createSnapshot(dev: WritableImage, w: Qcow2Writer, name: string, opts: SnapshotCreateOptions = {}): Promise<Snapshot> {
  const file = dev.path;
  const cs = dev.info.clusterSize;
  refuseSnapshotCreate(dev, name);
  const nameBytes = cutUtf8(name, MAX_NAME_BYTES);
  const id = String(dev.snapshots.reduce((max, s) => Math.max(max, leadingNumber(s.id)), 0) + 1);
  const idBytes = new TextEncoder().encode(id);
  const oldTable = new Uint8Array(dev.snapshotTableBytes);
  // The last entry's padding to 8 bytes may lie past the end of the file (QEMU writes the entries only).
  if ((await readFully(dev.io, oldTable, dev.header.snapshotsOffset)) < oldTable.length - 7)
    throw badImage(file, 'snapshot table lies beyond the end of the file');
  const entryAt = oldTable.length; // entries are 8-byte aligned, and so is the table's length
  const tableBytes = entryAt + 40 + EXTRA_BYTES + idBytes.length + nameBytes.length;
  if (tableBytes > MAX_SNAPSHOT_TABLE_BYTES)
    throw new Qcow2Error('limit', `Could not create snapshot '${printable(name)}': the snapshot table would exceed 64 MiB`, file);

  await shareActiveClusters(dev, w);
  await w.flush(); // refcount blocks, sync; L2 slices, sync; L1, sync

  // The L1 copy (entries now without COPIED where shared) and the new table, in new clusters.
  const l1Bytes = dev.info.l1Size * 8;
  const l1Clusters = Math.max(1, Math.ceil(l1Bytes / cs));
  const l1At = (await w.alloc.alloc(l1Clusters)) * cs;
  const l1Copy = new Uint8Array(l1Clusters * cs);
  l1Copy.set(dev.l1.subarray(0, l1Bytes));
  await writeMeta(dev, w, l1Copy, l1At, 'a snapshot L1 table');

  const date = opts.date ?? new Date();
  const ms = date.getTime();
  const snap: Snapshot = {
    entryOffset: 0,
    l1TableOffset: l1At,
    l1Size: dev.info.l1Size,
    id,
    name: new TextDecoder().decode(nameBytes),
    dateSec: Math.floor(ms / 1000),
    dateNsec: (ms % 1000) * 1_000_000,
    vmClockNsec: 0,
    vmStateSize: 0,
    diskSize: dev.info.virtualSize,
    icount: 0, // qemu-img snapshot -c writes 0 (its QEMUSnapshotInfo is zeroed); savevm writes -1
  };
  const tableClusters = Math.ceil(tableBytes / cs);
  const tableAt = (await w.alloc.alloc(tableClusters)) * cs;
  const table = new Uint8Array(tableClusters * cs);
  table.set(oldTable);
  encodeEntry(table, entryAt, snap, idBytes, nameBytes);
  await writeMeta(dev, w, table, tableAt, 'a snapshot table');
  w.wb.imageDataUnsynced = true;
  await w.flush(); // the new clusters' refcounts, the copy and the table are synced before the header points at them

  const oldOffset = dev.header.snapshotsOffset;
  const oldBytes = dev.snapshotTableBytes;
  await writeSnapshotTablePointer(dev.io, dev.snapshots.length + 1, tableAt);
  snap.entryOffset = tableAt + entryAt;
  const moved = dev.snapshots.map((s) => ({ ...s, entryOffset: s.entryOffset - oldOffset + tableAt }));
  dev.tables.switchSnapshotTable([...moved, snap], tableAt, pad8(tableBytes));
  w.meta.addRange(l1At, l1Bytes, `L1 table of snapshot ${id}`);
  if (oldBytes > 0) {
    w.meta.removeRange(oldOffset, oldBytes);
    for (let c = Math.floor(oldOffset / cs); c * cs < oldOffset + oldBytes; c++) w.wb.pendingDecrements.push(c);
  }
  w.meta.addRange(tableAt, tableBytes, 'snapshot table');
  await w.flush(); // frees the old table
  return snap;
}

/**
 * Step 1: one more reference to each L2 table and host cluster of the active disk, COPIED cleared where shared.
 * Entries change in memory only after their clusters' refcounts did, so any write-back (MetaWriteback writes
 * refcount blocks first) keeps refcounts ahead of the tables.
 */
async function shareActiveClusters(dev: WritableImage, w: Qcow2Writer): Promise<void> {
  const info = dev.info;
  const cs = info.clusterSize;
  for (let l1Index = 0; l1Index < info.l1Size; l1Index++) {
    const l2Offset = dev.l2TableOffset(l1Index);
    if (l2Offset === 0) continue;
    if (!dev.dataIo && l2Offset + cs > dev.fileSize) throw badImage(dev.path, `L1 entry ${l1Index} points to an L2 table beyond the end of the file`);
    for (let first = 0; first < info.l2Entries; first += info.l2SliceEntries) {
      const fetched = await dev.l2Slice(l2Offset, first);
      const entries = fetched.data.slice(); // stable while refcounts load
      const copiedAfter: boolean[] = [];
      for (let i = 0; i < info.l2SliceEntries; i++) {
        const e = decodeL2Entry(entries, i * info.l2EntryBytes, info);
        if (e.problem) throw l2EntryError(dev.path, info, l1Index, first + i, e.problem);
        let copied = false;
        if (e.compressed) {
          const last = Math.floor((e.compressed.offset + e.compressed.length - 1) / cs);
          for (let c = Math.floor(e.compressed.offset / cs); c <= last; c++) await w.rc.add(c, 1);
        } else if (e.host !== 0) {
          const c = e.host / cs;
          await w.rc.add(c, 1);
          copied = (await w.rc.get(c)) === 1;
        }
        copiedAfter.push(copied);
      }
      // No await from here to markL2: the slice object is the cache's current one throughout.
      const slice = dev.cache.current(dev.cache.l2, fetched);
      let changed = false;
      copiedAfter.forEach((copied, i) => {
        const at = i * info.l2EntryBytes;
        const hi = u32(slice.data, at);
        const next = (copied ? hi | COPIED_HI : hi & ~COPIED_HI) >>> 0;
        if (next !== hi) {
          setU32(slice.data, at, next);
          changed = true;
        }
      });
      if (changed) w.wb.markL2(slice);
      if (w.wb.overCacheLimit()) await w.flush();
    }
    const l2Cluster = l2Offset / cs;
    await w.rc.add(l2Cluster, 1);
    const [hi, lo] = entryWords(dev.l1, l1Index * 8);
    const next = ((await w.rc.get(l2Cluster)) === 1 ? hi | COPIED_HI : hi & ~COPIED_HI) >>> 0;
    if (next !== hi) {
      dev.tables.setL1Entry(l1Index, next, lo);
      w.wb.markL1Entry(l1Index);
    }
    if (w.wb.overCacheLimit()) await w.flush();
  }
}

async function writeMeta(dev: WritableImage, w: Qcow2Writer, bytes: Uint8Array, at: number, what: string): Promise<void> {
  dev.cache.forgetHostRange(at, bytes.length);
  dev.forgetCompressed();
  w.meta.check(at, bytes.length, what);
  await dev.io.writeAt(bytes, at);
  dev.noteFileEnd(at + bytes.length);
}

/** A snapshot table entry as qcow2_write_snapshots writes it: header, 24 bytes of extra data, id, name. */
function encodeEntry(b: Uint8Array, at: number, s: Snapshot, id: Uint8Array, name: Uint8Array): void {
  setU64(b, at, s.l1TableOffset);
  setU32(b, at + 8, s.l1Size);
  setU16(b, at + 12, id.length);
  setU16(b, at + 14, name.length);
  setU32(b, at + 16, s.dateSec);
  setU32(b, at + 20, s.dateNsec);
  setU64(b, at + 24, s.vmClockNsec);
  setU32(b, at + 32, s.vmStateSize);
  setU32(b, at + 36, EXTRA_BYTES);
  setU64(b, at + 40, s.vmStateSize);
  setU64(b, at + 48, s.diskSize ?? 0);
  setU64(b, at + 56, s.icount ?? 0);
  b.set(id, at + 40 + EXTRA_BYTES);
  b.set(name, at + 40 + EXTRA_BYTES + id.length);
}

/** strtoul's reading of an id: its leading decimal digits, 0 without any (QEMU's find_new_snapshot_id). */
function leadingNumber(id: string): number {
  const m = /^\s*\+?(\d+)/.exec(id);
  return m ? Math.min(Number(m[1]), Number.MAX_SAFE_INTEGER - 1) : 0;
}

function cutUtf8(s: string, max: number): Uint8Array {
  const b = new TextEncoder().encode(s);
  return b.length <= max ? b : b.subarray(0, max);
}

const pad8 = (n: number): number => Math.ceil(n / 8) * 8;
