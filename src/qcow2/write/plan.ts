/**
 * How one guest cluster touched by a write is handled: in place, into a fresh cluster, or into a fresh cluster
 * holding a copy of the old one (compressed, or shared with a snapshot); and which bytes must be written.
 */
import { u32 } from '../format/bytes';
import { compressedRange, entryOffset, entryWords, isCompressed, isCopied, ZERO_LO } from '../format/entries';
import { badImage, type Qcow2Error } from '../errors';
import type { Qcow2Info } from '../format/info';
import type { MetaSlice } from '../qcow2-dev';

export type SubState = 'data' | 'zero' | 'unalloc';

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

/** Decides how one guest cluster is written, from its current L2 entry at byte `at` of the slice. */
export function planCluster(info: Qcow2Info, file: string, slice: MetaSlice, at: number, guest: number, a: number, b: number): ClusterPlan {
  const entryError = (g: number, what: string): Qcow2Error => badImage(file, `L2 entry for guest offset 0x${g.toString(16)} ${what}`);
  const data = slice.data;
  const [hi, lo] = entryWords(data, at);
  const n = info.subclustersPerCluster;
  const plan: ClusterPlan = { guest, a, b, at, mode: 'fresh', host: 0, states: [], allocBits: 0, zeroBits: 0, release: [] };
  if (info.extendedL2) {
    plan.zeroBits = u32(data, at + 8);
    plan.allocBits = u32(data, at + 12);
  }
  if (isCompressed(hi)) {
    if (info.hasDataFile) throw entryError(guest, 'is compressed, which an image with an external data file cannot have');
    const range = compressedRange(hi, lo, info.clusterBits);
    if (!range) throw entryError(guest, 'has a compressed data offset out of range');
    plan.mode = 'copy';
    plan.copyFrom = { compressed: range };
    plan.states = new Array<SubState>(n).fill('data');
    plan.allocBits = 0;
    plan.zeroBits = 0;
    const first = Math.floor(range.offset / 512) * 512;
    for (let c = Math.floor(first / info.clusterSize); c * info.clusterSize < range.offset + range.length; c++) plan.release.push(c);
    return plan;
  }
  const off = entryOffset(hi, lo);
  const copied = isCopied(hi);
  const allocated = off !== 0 || (info.hasDataFile && copied);
  if (allocated && off % info.clusterSize !== 0) throw entryError(guest, `points to unaligned host offset 0x${off.toString(16)}`);
  for (let s = 0; s < n; s++) plan.states.push(subState(info, lo, plan, s, allocated, entryError));
  if (info.hasDataFile) {
    // Data clusters live in the data file at the guest offset and have no refcounts.
    plan.mode = 'inplace';
    plan.host = allocated ? off : guest;
    if (info.dataFileRaw) plan.states.fill('data'); // the raw file is the truth: no padding
    return plan;
  }
  if (allocated && copied) {
    plan.mode = 'inplace';
    plan.host = off;
  } else if (allocated) {
    // Shared with a snapshot (or a shared preallocated zero cluster): copy, then drop our reference.
    plan.mode = plan.states.some((s) => s === 'data') ? 'copy' : 'fresh';
    if (plan.mode === 'copy') plan.copyFrom = { host: off };
    plan.release.push(off / info.clusterSize);
  }
  return plan;
}

function subState(info: Qcow2Info, lo: number, plan: ClusterPlan, s: number, allocated: boolean, entryError: (g: number, what: string) => Qcow2Error): SubState {
  if (!info.extendedL2) {
    if (lo & ZERO_LO && info.version >= 3) return 'zero';
    return allocated ? 'data' : 'unalloc';
  }
  const bit = (1 << s) >>> 0;
  if (plan.allocBits & plan.zeroBits & bit) throw entryError(plan.guest, `subcluster ${s} is marked both allocated and zero`);
  if (plan.allocBits & bit) {
    if (!allocated) throw entryError(plan.guest, `subcluster ${s} is allocated but the cluster has no host offset`);
    return 'data';
  }
  return plan.zeroBits & bit ? 'zero' : 'unalloc';
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

