/**
 * How one guest cluster touched by a write is handled: in place, into a fresh cluster, or into a fresh cluster
 * holding a copy of the old one (compressed, or shared with a snapshot); and which bytes must be written.
 */
import { dataFileMismatch, decodeL2Entry, subclusterProblem, subclusterState, type SubState } from '../format/entries';
import type { Qcow2Error } from '../errors';
import type { Qcow2Info } from '../format/info';
import type { MetaSlice } from '../cache/metadata-cache';

export type { SubState };

/** What to do with one guest cluster touched by a write. */
export interface ClusterPlan {
  /** Guest offset of the cluster. */
  guest: number;
  /** Written byte range inside the cluster. */
  a: number;
  b: number;
  /** Byte offset of the L2 entry in its slice. */
  at: number;
  /** inplace: host cluster known; fresh: new cluster, nothing copied; copy: new cluster, whole old cluster copied. */
  mode: 'inplace' | 'fresh' | 'copy';
  host: number;
  copyFrom?: { compressed: { offset: number; length: number } } | { host: number };
  /** State of each subcluster before the write (one entry without extended L2). */
  states: SubState[];
  allocBits: number;
  zeroBits: number;
  /** Host clusters to decrement once the new entry is on disk. */
  release: number[];
}

/**
 * Decides how one guest cluster is written, from its current L2 entry at byte `at` of the slice. `entryError`
 * words a bad entry (the same wording as reads use).
 */
export function planCluster(
  info: Qcow2Info,
  slice: MetaSlice,
  at: number,
  guest: number,
  a: number,
  b: number,
  entryError: (what: string) => Qcow2Error,
): ClusterPlan {
  const e = decodeL2Entry(slice.data, at, info);
  const n = info.subclustersPerCluster;
  const plan: ClusterPlan = { guest, a, b, at, mode: 'fresh', host: 0, states: [], allocBits: e.allocBits, zeroBits: e.zeroBits, release: [] };
  if (e.isCompressed) {
    if (info.hasDataFile) throw entryError('is compressed, which an image with an external data file cannot have');
    if (!e.compressed) throw entryError(e.problem!);
    const range = e.compressed;
    plan.mode = 'copy';
    plan.copyFrom = { compressed: range };
    plan.states = new Array<SubState>(n).fill('data');
    plan.allocBits = 0;
    plan.zeroBits = 0;
    const first = Math.floor(range.offset / 512) * 512;
    for (let c = Math.floor(first / info.clusterSize); c * info.clusterSize < range.offset + range.length; c++) plan.release.push(c);
    return plan;
  }
  if (e.problem) throw entryError(e.problem);
  for (let s = 0; s < n; s++) {
    const state = subclusterState(e, s, info);
    if (state === null) throw entryError(subclusterProblem(e, s));
    plan.states.push(state);
  }
  const off = e.host;
  if (info.hasDataFile) {
    // Data clusters live in the data file at the guest offset and have no refcounts.
    if (e.allocated && off !== guest) throw entryError(dataFileMismatch(off, guest));
    plan.mode = 'inplace';
    plan.host = e.allocated ? off : guest;
    if (info.dataFileRaw) plan.states.fill('data'); // the raw file is the truth: no padding
    return plan;
  }
  if (e.allocated && e.copied) {
    plan.mode = 'inplace';
    plan.host = off;
  } else if (e.allocated) {
    // Shared with a snapshot (or a shared preallocated zero cluster): copy, then drop our reference.
    plan.mode = plan.states.some((s) => s === 'data') ? 'copy' : 'fresh';
    if (plan.mode === 'copy') plan.copyFrom = { host: off };
    plan.release.push(off / info.clusterSize);
  }
  return plan;
}

/** The byte range [from, to) of the cluster that will be written. */
export function span(info: Qcow2Info, plan: ClusterPlan): [number, number] {
  const sub = info.subclusterSize;
  if (plan.mode === 'copy' || (!info.extendedL2 && plan.mode === 'fresh')) return [0, info.clusterSize];
  const sa = Math.floor(plan.a / sub);
  const sb = Math.ceil(plan.b / sub);
  if (plan.mode === 'fresh') return [sa * sub, sb * sub];
  const from = plan.a % sub !== 0 && plan.states[sa] !== 'data' ? sa * sub : plan.a;
  const to = plan.b % sub !== 0 && plan.states[sb - 1] !== 'data' ? sb * sub : plan.b;
  return [from, to];
}
