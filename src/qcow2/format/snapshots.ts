import { u16, u32, u64OrNull } from './bytes';
import { badImage, printable } from '../errors';
import { readFully, type Qcow2IoOps } from '../io/ops';

export const MAX_SNAPSHOT_TABLE_BYTES = 64 * 1024 * 1024;
const MAX_SNAPSHOT_EXTRA = 1024;

export interface Snapshot {
  /** Byte offset of this entry in the file, for check and usage. */
  entryOffset: number;
  l1TableOffset: number;
  l1Size: number;
  id: string;
  name: string;
  dateSec: number;
  dateNsec: number;
  vmClockNsec: number;
  vmStateSize: number;
  /** From the extra data, when present. */
  diskSize?: number;
  icount?: number;
  /** The icount in decimal when it does not fit a number (only shown, never computed with). */
  icountText?: string;
  /** Why this snapshot's L1 table cannot be read (QEMU opens the image all the same; check reports it). */
  damage?: string;
}

export interface SnapshotTable {
  snapshots: Snapshot[];
  /** Bytes the table occupies (header-aligned entries). */
  byteLength: number;
}

/** Reads the snapshot table, bounded by QEMU's 64 MiB table limit. */
export async function readSnapshotTable(io: Qcow2IoOps, offset: number, count: number, fileSize: number, clusterSize: number): Promise<SnapshotTable> {
  if (count === 0) return { snapshots: [], byteLength: 0 };
  const file = io.path;
  if (offset === 0 || offset >= fileSize) throw badImage(file, 'snapshot table lies beyond the end of the file');
  // Read in growing chunks: entries are variable-sized, so the length is known only while walking.
  const limit = Math.min(MAX_SNAPSHOT_TABLE_BYTES, fileSize - offset);
  let buf = new Uint8Array(Math.min(limit, Math.max(clusterSize, count * 64)));
  let have = await readFully(io, buf, offset);
  const ensure = async (end: number): Promise<void> => {
    if (end <= have) return;
    if (end > limit)
      throw badImage(
        file,
        end > MAX_SNAPSHOT_TABLE_BYTES
          ? 'snapshot table is larger than 64 MiB; check -r all discards the snapshots past the limit'
          : 'snapshot table lies beyond the end of the file',
      );
    const bigger = new Uint8Array(Math.min(limit, Math.max(end, buf.length * 2)));
    bigger.set(buf.subarray(0, have));
    buf = bigger;
    have += await readFully(io, buf.subarray(have), offset + have);
    if (end > have) throw badImage(file, 'snapshot table lies beyond the end of the file');
  };
  const snapshots: Snapshot[] = [];
  let pos = 0;
  for (let i = 0; i < count; i++) {
    await ensure(pos + 40);
    const l1TableOffset = u64OrNull(buf, pos);
    const vmClock = u64OrNull(buf, pos + 24);
    if (l1TableOffset === null) throw badImage(file, `snapshot ${i} L1 table offset is out of range`);
    const l1Size = u32(buf, pos + 8);
    const idLen = u16(buf, pos + 12);
    const nameLen = u16(buf, pos + 14);
    const extraSize = u32(buf, pos + 36);
    if (extraSize > MAX_SNAPSHOT_EXTRA) throw badImage(file, `snapshot ${i} has too much extra data (${extraSize} bytes); check -r all truncates it`);
    const entryLen = 40 + extraSize + idLen + nameLen;
    await ensure(pos + entryLen);
    const snap: Snapshot = {
      entryOffset: offset + pos,
      l1TableOffset,
      l1Size,
      id: text(buf.subarray(pos + 40 + extraSize, pos + 40 + extraSize + idLen)),
      name: text(buf.subarray(pos + 40 + extraSize + idLen, pos + entryLen)),
      dateSec: u32(buf, pos + 16),
      dateNsec: u32(buf, pos + 20),
      vmClockNsec: vmClock ?? 0,
      vmStateSize: u32(buf, pos + 32),
    };
    const extra = pos + 40;
    if (extraSize >= 8) snap.vmStateSize = u64OrNull(buf, extra) ?? snap.vmStateSize;
    if (extraSize >= 16) snap.diskSize = u64OrNull(buf, extra + 8) ?? undefined;
    if (extraSize >= 24) {
      const ic = u64OrNull(buf, extra + 16);
      const hi = u32(buf, extra + 16);
      const lo = u32(buf, extra + 20);
      if (ic !== null) snap.icount = ic;
      // -1 means absent; other values past 2^53 are shown exactly (BigInt only to print them, never for offsets).
      else if (hi !== 0xffffffff || lo !== 0xffffffff) snap.icountText = ((BigInt(hi) << 32n) | BigInt(lo)).toString();
    }
    // As qemu-img, a bad inactive snapshot does not block the active disk: it is kept, marked, and refused when used.
    if (l1Size * 8 > 32 * 1024 * 1024) snap.damage = `snapshot ${i} (id ${printable(snap.id, 40)}) L1 table is too large`;
    else if (l1TableOffset % clusterSize !== 0) snap.damage = `snapshot ${i} (id ${printable(snap.id, 40)}) L1 table offset is not cluster-aligned`;
    snapshots.push(snap);
    pos += Math.ceil(entryLen / 8) * 8;
  }
  return { snapshots, byteLength: pos };
}

/** Marks snapshots whose L1 table lies past the end of the file too; returns every snapshot's damage, for open. */
export function snapshotDamage(snapshots: Snapshot[], fileSize: number): string[] {
  for (const s of snapshots) {
    if (!s.damage && s.l1TableOffset + s.l1Size * 8 > fileSize) s.damage = `snapshot ${printable(s.id, 40)} L1 table lies beyond the end of the file`;
  }
  return snapshots.flatMap((s) => (s.damage ? [s.damage] : []));
}

/** QEMU's lookup: by id, by name, or (`any`, as qemu-img snapshot/-l NAME) the id first, then the name. */
export function findSnapshot(snapshots: readonly Snapshot[], key: string, by: 'id' | 'name' | 'any'): Snapshot | undefined {
  if (by !== 'name') {
    const hit = snapshots.find((s) => s.id === key);
    if (hit || by === 'id') return hit;
  }
  return snapshots.find((s) => s.name === key);
}

/** QEMU reads ids and names as C strings: they end at the first NUL. */
function text(b: Uint8Array): string {
  const end = b.indexOf(0);
  return new TextDecoder('utf-8', { fatal: false }).decode(end < 0 ? b : b.subarray(0, end));
}
