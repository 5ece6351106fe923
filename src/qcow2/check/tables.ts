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
  /** Bytes the table spans, as QEMU computes snapshots_size. */
  size: number;
  snapshots: CheckSnapshot[];
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

export async function readSnapshotsForCheck(io: Qcow2IoOps, offset: number, count: number, clusterSize: number): Promise<CheckSnapshotTable> {
  if (count === 0) return { offset, size: 0, snapshots: [] };
  if (count > MAX_SNAPSHOTS) throw new CheckAbort('ERROR snapshot table too large');
  if (offset % clusterSize !== 0 || !Number.isFinite(offset)) throw new CheckAbort('ERROR snapshot table offset invalid');
  const snapshots: CheckSnapshot[] = [];
  // Read in chunks that grow as the walk needs them; the table is at most 64 MiB.
  let bufStart = offset;
  let buf = await readZeroFilled(io, offset, Math.min(MAX_SNAPSHOT_TABLE, Math.max(clusterSize, count * 64)));
  const ensure = async (at: number, len: number): Promise<number> => {
    if (at + len <= bufStart + buf.length) return at - bufStart;
    bufStart = at;
    buf = await readZeroFilled(io, at, Math.max(len, 1024 * 1024));
    return 0;
  };
  let pos = offset;
  let tableLength = 0;
  const text = (b: Uint8Array): string => new TextDecoder('utf-8', { fatal: false }).decode(b);
  for (let i = 0; i < count; i++) {
    pos = Math.ceil(pos / 8) * 8;
    tableLength = Math.ceil(tableLength / 8) * 8;
    let p = await ensure(pos, SNAPSHOT_HEADER);
    const l1Offset = u64Loose(buf, p);
    const l1Size = u32(buf, p + 8);
    const idLen = u16(buf, p + 12);
    const nameLen = u16(buf, p + 14);
    const extraSize = u32(buf, p + 36);
    if (extraSize > MAX_SNAPSHOT_EXTRA) {
      throw new CheckAbort(`ERROR failed to read the snapshot table: Too much extra metadata in snapshot table entry ${i}`);
    }
    const entryLen = SNAPSHOT_HEADER + extraSize + idLen + nameLen;
    p = await ensure(pos, entryLen);
    const idAt = p + SNAPSHOT_HEADER + extraSize;
    snapshots.push({
      index: i,
      l1Offset,
      l1Size,
      extraSize,
      id: text(buf.subarray(idAt, idAt + idLen)),
      name: text(buf.subarray(idAt + idLen, idAt + idLen + nameLen)),
      rawHeader: buf.slice(p, p + SNAPSHOT_HEADER),
      extra: buf.slice(p + SNAPSHOT_HEADER, idAt),
      idBytes: buf.slice(idAt, idAt + idLen),
      nameBytes: buf.slice(idAt + idLen, idAt + idLen + nameLen),
    });
    pos += entryLen;
    tableLength += entryLen;
    if (tableLength > MAX_SNAPSHOT_TABLE) throw new CheckAbort('ERROR failed to read the snapshot table: Snapshot table is too big');
  }
  return { offset, size: pos - offset, snapshots };
}

export interface CheckBitmap {
  name: string;
  tableOffset: number;
  tableSize: number;
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
