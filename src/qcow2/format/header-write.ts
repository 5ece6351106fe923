/**
 * In-place updates of single header fields. Patching the fields (rather than re-serialising the header)
 * keeps unknown header fields, extensions and the backing file name byte-for-byte as they were.
 * Each update is one small write inside the first sector, followed by a sync.
 */
import { setU32, setU64 } from './bytes';
import type { FeatureBits } from './header';
import type { Qcow2IoOps } from '../io/ops';

export const HEADER_REFTABLE_OFFSET = 48;
export const HEADER_AUTOCLEAR_OFFSET = 88;
export const HEADER_INCOMPAT_OFFSET = 72;

/** Points the header at a new refcount table (u64 offset and u32 cluster count are adjacent). */
export async function writeReftablePointer(io: Qcow2IoOps, offset: number, clusters: number): Promise<void> {
  const b = new Uint8Array(12);
  setU64(b, 0, offset);
  setU32(b, 8, clusters);
  await io.writeAt(b, HEADER_REFTABLE_OFFSET);
  await io.fsync();
}

export async function writeFeatureWord(io: Qcow2IoOps, at: number, bits: FeatureBits): Promise<void> {
  const b = new Uint8Array(8);
  setU32(b, 0, bits.hi >>> 0);
  setU32(b, 4, bits.lo >>> 0);
  await io.writeAt(b, at);
  await io.fsync();
}

export const HEADER_NB_SNAPSHOTS_OFFSET = 60;

/** Points the header at a new snapshot table: u32 nb_snapshots and u64 snapshots_offset are adjacent, one write. */
export async function writeSnapshotTablePointer(io: Qcow2IoOps, count: number, offset: number): Promise<void> {
  const b = new Uint8Array(12);
  setU32(b, 0, count);
  setU64(b, 4, offset);
  await io.writeAt(b, HEADER_NB_SNAPSHOTS_OFFSET);
  await io.fsync();
}
