/** What one pass of the check works on, and what the L2 entry checks need of the reference walk. */
import type { Qcow2IoOps } from '../io/ops';
import type { Qcow2Info } from '../format/info';
import type { Qcow2Header } from '../format/header';
import type { CheckFinding, CheckSummary, FindingSink } from './findings';
import type { OnDiskRefcounts } from './ondisk';
import type { Owner, RefcountArray } from './refcount-rebuild';
import type { CheckSnapshotTable } from './tables';

export interface CheckProgress {
  phase: 'refcounts' | 'tables' | 'compare' | 'repair';
  done: number;
  total: number;
}

/** Everything one pass needs; built fresh for each pass because a repair changes the image. */
export interface PassContext {
  io: Qcow2IoOps;
  file: string;
  header: Qcow2Header;
  info: Qcow2Info;
  fileSize: number;
  nbClusters: number;
  l1: Uint8Array;
  reftable: Uint8Array;
  snapshots: CheckSnapshotTable;
  /** Bitmaps to count, or null when QEMU would ignore them (autoclear bit clear). */
  bitmaps: { dirOffset: number; dirSize: number; count: number } | null;
  onDisk: OnDiskRefcounts;
  sink: FindingSink;
  res: CheckSummary;
  signal?: AbortSignal;
  onProgress?: (p: CheckProgress) => void;
}

export interface WalkOptions {
  /** Check COPIED flags during the walk against the on-disk refcounts (a pass that will not repair). */
  copiedInline: boolean;
  /** -r all: a refblock outside the image is left for the rebuild. */
  fixAll: boolean;
}

/** An active L2 entry's COPIED flag, checked once the on-disk refcount of a cluster past the tracked range is read. */
export interface DeferredCopied {
  cluster: number;
  copied: boolean;
  hi: number;
  lo: number;
  /** >= 0: a data cluster's guest offset; < 0: -1 - the L1 index. */
  guest: number;
  times: number;
}

/** What the L2 entry checks (l2-entries.ts) use of the reference walk (walk.ts). */
export interface ReferenceCounting {
  readonly ctx: PassContext;
  readonly opts: WalkOptions;
  readonly mem: RefcountArray;
  /** Counts a finding `times` times: once per reference to the table it was found in. */
  finding(f: CheckFinding, times?: number): void;
  /** `times` more references to every cluster of [offset, offset + size), owned by `owner`. */
  inc(offset: number, size: number, owner: Owner, offsetHex?: string, times?: number): void;
  /** Records a COPIED mismatch, if the refcount and the flag disagree. */
  copiedMismatch(refcount: number, copied: boolean, hi: number, lo: number, guest: number, times?: number): void;
  deferCopied(d: DeferredCopied): void;
  /** An entry to rewrite as a zero cluster (-r all), written before any refcount repair. */
  addZeroFix(at: number, bytes: Uint8Array): void;
  /** Puts the entries fixed so far into a table read since. */
  applyFixes(table: Uint8Array, l2Offset: number): void;
  /** Whether any zero fixes exist (applyFixes is then worth calling). */
  readonly hasFixes: boolean;
}
