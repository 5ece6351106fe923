/**
 * Reading the snapshot table and bitmap directory the way qemu-img check does: tolerant of damage it can
 * report as corruption, and failing (a check error) only where QEMU's check cannot go on either.
 */
import { u16, u32 } from '../format/bytes';
import { Qcow2Error } from '../errors';
import type { Qcow2IoOps } from '../io/ops';
import { readZeroFilled } from './walk-l1l2';

const SNAPSHOT_HEADER = 40;
const MAX_SNAPSHOTS = 65536;
const MAX_SNAPSHOT_EXTRA = 1024;
const MAX_SNAPSHOT_TABLE = 64 * 1024 * 1024;
const TWO_32 = 0x1_0000_0000;
const INT_MAX = 0x7fffffff;

export interface CheckSnapshot {
  index: number;
  id: string;
  name: string;
  /** May be unaligned or huge: the check reports that. */
  l1Offset: number;
  l1Size: number;
  extraSize: number;
  /** The 40-byte entry header and the extra data as on disk, for rewriting the table. */
  rawHeader: Uint8Array;
  extra: Uint8Array;
  idBytes: Uint8Array;
  nameBytes: Uint8Array;
}

export interface CheckSnapshotTable {
  offset: number;
  /** Bytes the table spans on disk, as QEMU computes snapshots_size (truncated extra data counts in full). */
  size: number;
  snapshots: CheckSnapshot[];
  /** -r all: snapshots dropped from the end (QEMU's nb_clusters_reduced); the header count must follow. */
  discarded: number;
  /** -r all: entries whose extra data was cut to 1024 bytes (QEMU's extra_data_dropped). */
  extraTruncated: number;
  /** The lines qemu-img prints while reading the table in repair mode. */
  notes: string[];
}

/** A failure that makes qemu-img check stop with "Check failed" (exit 1). */
export class CheckAbort extends Error {
  constructor(readonly qemuLine: string) {
    super(qemuLine);
  }
}

/** u64 as a number; values past 2^53 become Infinity (they are past any file end anyway). */
export function u64Loose(b: Uint8Array, off: number): number {
  const hi = u32(b, off);
  return hi > 0x1fffff ? Infinity : hi * TWO_32 + u32(b, off + 4);
}

/**
 * Reads the snapshot table as qcow2_check_read_snapshot_table does. Without `repair`, damage QEMU cannot read
 * past is a CheckAbort. With `repair` (-r all) it is cut as QEMU cuts it: snapshots past 65536 or past the 64 MiB
 * table limit are discarded, extra data over 1024 bytes is truncated. Memory stays bounded by the 64 MiB limit:
 * only the kept extra data, ids and names are held, and each read is at most 1 MiB past what an entry needs.
 */
export async function readSnapshotsForCheck(io: Qcow2IoOps, offset: number, count: number, clusterSize: number, repair = false): Promise<CheckSnapshotTable> {
  const out: CheckSnapshotTable = { offset, size: 0, snapshots: [], discarded: 0, extraTruncated: 0, notes: [] };
  if (count === 0) return out;
  if (count > MAX_SNAPSHOTS) {
    if (!repair) throw new CheckAbort('ERROR snapshot table too large');
    out.notes.push(`Discarding ${count - MAX_SNAPSHOTS} overhanging snapshots`);
    out.discarded += count - MAX_SNAPSHOTS;
    count = MAX_SNAPSHOTS;
  }
  if (offset % clusterSize !== 0 || !Number.isFinite(offset)) throw new CheckAbort('ERROR snapshot table offset invalid');
  const snapshots = out.snapshots;
  // Read in chunks as the walk needs them.
  let bufStart = offset;
  let buf = await readZeroFilled(io, offset, Math.min(MAX_SNAPSHOT_TABLE, Math.max(clusterSize, count * 64)));
  const ensure = async (at: number, len: number): Promise<number> => {
    if (at >= bufStart && at + len <= bufStart + buf.length) return at - bufStart;
    bufStart = at;
    buf = await readZeroFilled(io, at, Math.max(len, 1024 * 1024));
    return 0;
  };
  let pos = offset;
  let tableLength = 0;
  const text = (b: Uint8Array): string => new TextDecoder('utf-8', { fatal: false }).decode(b);
  for (let i = 0; i < count; i++) {
    const before = pos;
    pos = Math.ceil(pos / 8) * 8;
    tableLength = Math.ceil(tableLength / 8) * 8;
    let p = await ensure(pos, SNAPSHOT_HEADER);
    const rawHeader = buf.slice(p, p + SNAPSHOT_HEADER);
    const l1Offset = u64Loose(rawHeader, 0);
    const l1Size = u32(rawHeader, 8);
    const idLen = u16(rawHeader, 12);
    const nameLen = u16(rawHeader, 14);
    const extraSize = u32(rawHeader, 36);
    let keptExtra = extraSize;
    if (extraSize > MAX_SNAPSHOT_EXTRA) {
      if (!repair) throw new CheckAbort(`ERROR failed to read the snapshot table: Too much extra metadata in snapshot table entry ${i}`);
      out.notes.push(`Discarding too much extra metadata in snapshot table entry ${i} (${extraSize} > ${MAX_SNAPSHOT_EXTRA})`);
      out.extraTruncated++;
      keptExtra = MAX_SNAPSHOT_EXTRA;
    }
    p = await ensure(pos + SNAPSHOT_HEADER, keptExtra);
    const extra = buf.slice(p, p + keptExtra);
    // The id and name follow the extra data as it is on disk, even when only part of it is kept.
    const idAt = pos + SNAPSHOT_HEADER + extraSize;
    p = await ensure(idAt, idLen + nameLen);
    // QEMU keeps both as C strings: they end at the first NUL (and a rewritten table stores them so).
    const idBytes = untilNul(buf.slice(p, p + idLen));
    const nameBytes = untilNul(buf.slice(p + idLen, p + idLen + nameLen));
    pos = idAt + idLen + nameLen;
    tableLength += SNAPSHOT_HEADER + keptExtra + idLen + nameLen;
    if (tableLength > MAX_SNAPSHOT_TABLE || pos - offset > INT_MAX) {
      if (!repair) throw new CheckAbort('ERROR failed to read the snapshot table: Snapshot table is too big');
      out.notes.push(`Discarding ${count - i} overhanging snapshots (snapshot table is too big)`);
      out.discarded += count - i;
      pos = before;
      break;
    }
    snapshots.push({ index: i, l1Offset, l1Size, extraSize: keptExtra, id: text(idBytes), name: text(nameBytes), rawHeader, extra, idBytes, nameBytes });
  }
  out.size = pos - offset;
  return out;
}

function untilNul(b: Uint8Array): Uint8Array {
  const end = b.indexOf(0);
  return end < 0 ? b : b.subarray(0, end);
}

export interface CheckBitmap {
  name: string;
  tableOffset: number;
  tableSize: number;
  flags: number;
  type: number;
  granularityBits: number;
}

/** Parses the bitmap directory; a malformed directory is a corruption QEMU's check cannot go past. */
export async function readBitmapsForCheck(io: Qcow2IoOps, dirOffset: number, dirSize: number, count: number, clusterSize: number): Promise<CheckBitmap[]> {
  if (dirOffset % clusterSize !== 0) throw new CheckAbort('ERROR bitmap directory offset is not cluster-aligned');
  const dir = await readZeroFilled(io, dirOffset, dirSize);
  const out: CheckBitmap[] = [];
  let pos = 0;
  for (let i = 0; i < count; i++) {
    if (pos + 24 > dir.length) throw new CheckAbort('ERROR bitmap directory is shorter than its bitmap count');
    const nameSize = u16(dir, pos + 18);
    const extraSize = u32(dir, pos + 20);
    const len = 24 + extraSize + nameSize;
    if (pos + len > dir.length) throw new CheckAbort(`ERROR bitmap ${i} entry overruns the bitmap directory`);
    out.push({
      tableOffset: u64Loose(dir, pos),
      tableSize: u32(dir, pos + 8),
      flags: u32(dir, pos + 12),
      type: dir[pos + 16],
      granularityBits: dir[pos + 17],
      name: new TextDecoder().decode(dir.subarray(pos + 24 + extraSize, pos + len)),
    });
    pos += Math.ceil(len / 8) * 8;
  }
  return out;
}

export function abortToError(err: unknown, file: string): Qcow2Error {
  if (err instanceof CheckAbort) return new Qcow2Error('bad-image', `check failed: ${err.qemuLine.replace(/^ERROR /, '')}`, file);
  return err as Qcow2Error;
}
