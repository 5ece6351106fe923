/**
 * Host cluster usage: what every cluster of the image file holds (header, tables, data, ...), from the same
 * reference walk as the integrity check. Clusters nothing references are free, or leaked when their
 * on-disk refcount says they are in use.
 */
import { ReferenceWalk, type CheckProgress, type PassContext } from './walk';
import { emptySummary, FindingSink } from './findings';
import { OnDiskRefcounts } from './ondisk';
import { checkTrackable, Owner, OWNER_NAMES } from './refcount-rebuild';
import { CheckAbort, readSnapshotsForCheck } from './tables';
import { readZeroFilled } from './walk-l1l2';
import type { CheckTarget } from './check';
import { AUTOCLEAR_BITMAPS } from '../format/header';
import { Qcow2Error } from '../errors';

export type UsageCategory =
  | 'header'
  | 'l1'
  | 'l2'
  | 'refcount-table'
  | 'refcount-block'
  | 'data'
  | 'compressed'
  | 'snapshot-table'
  | 'snapshot-l1'
  | 'snapshot-l2'
  | 'bitmap-directory'
  | 'bitmap-table'
  | 'bitmap-data'
  | 'encryption-header'
  | 'leaked'
  | 'free';

const CATEGORY_OF: Record<Owner, UsageCategory> = {
  [Owner.Free]: 'free',
  [Owner.Header]: 'header',
  [Owner.L1]: 'l1',
  [Owner.L2]: 'l2',
  [Owner.RefcountTable]: 'refcount-table',
  [Owner.RefcountBlock]: 'refcount-block',
  [Owner.Data]: 'data',
  [Owner.Compressed]: 'compressed',
  [Owner.SnapshotTable]: 'snapshot-table',
  [Owner.SnapshotL1]: 'snapshot-l1',
  [Owner.SnapshotL2]: 'snapshot-l2',
  [Owner.BitmapDirectory]: 'bitmap-directory',
  [Owner.BitmapTable]: 'bitmap-table',
  [Owner.BitmapData]: 'bitmap-data',
  [Owner.CryptoHeader]: 'encryption-header',
};

export const USAGE_LABELS: Record<UsageCategory, string> = {
  ...(Object.fromEntries(Object.entries(CATEGORY_OF).map(([o, c]) => [c, OWNER_NAMES[Number(o) as Owner]])) as Record<UsageCategory, string>),
  leaked: 'leaked',
  free: 'free',
};

/** Inclusive range of host cluster indices. */
export interface ClusterRange {
  first: number;
  last: number;
}

export interface UsageEntry {
  category: UsageCategory;
  label: string;
  clusters: number;
  bytes: number;
  ranges: ClusterRange[];
  /** True when more ranges existed than were kept. */
  rangesTruncated: boolean;
}

export interface ClusterUsage {
  file: string;
  clusterSize: number;
  fileSize: number;
  /** Clusters of the file (the last may be partial). */
  hostClusters: number;
  /** Clusters referenced more than once (snapshots, or overlapping metadata). */
  sharedClusters: number;
  categories: UsageEntry[];
}

export type UsageCallback = (category: UsageCategory, ranges: ClusterRange[], clusters: number) => void;

export interface UsageOptions {
  onProgress?: (p: CheckProgress) => void;
  signal?: AbortSignal;
  /** Most ranges kept per category (default 100000). */
  maxRanges?: number;
}

const ORDER: UsageCategory[] = [
  'header',
  'l1',
  'l2',
  'refcount-table',
  'refcount-block',
  'data',
  'compressed',
  'snapshot-table',
  'snapshot-l1',
  'snapshot-l2',
  'bitmap-directory',
  'bitmap-table',
  'bitmap-data',
  'encryption-header',
  'leaked',
  'free',
];

/**
 * Classifies every host cluster. `cb` is called once per non-empty category with its ranges and count
 * (as qcow2-rs's qcow2_cluster_usage); the whole picture is also returned.
 */
export async function clusterUsage(
  t: CheckTarget,
  cb?: (category: UsageCategory, ranges: ClusterRange[], clusters: number) => void,
  opts: UsageOptions = {},
): Promise<ClusterUsage> {
  const { io, header: h, info } = t;
  const fileSize = await io.size();
  const nb = Math.ceil(fileSize / info.clusterSize);
  checkTrackable(t.path, nb);
  let ctx: PassContext;
  try {
    const reftable = await readZeroFilled(io, h.refcountTableOffset, h.refcountTableClusters * info.clusterSize);
    const bm = h.extensions.bitmaps;
    ctx = {
      io,
      file: t.path,
      header: h,
      info,
      fileSize,
      nbClusters: nb,
      l1: await readZeroFilled(io, h.l1TableOffset, h.l1Size * 8),
      reftable,
      snapshots: await readSnapshotsForCheck(io, h.snapshotsOffset, h.nbSnapshots, info.clusterSize),
      bitmaps: bm && h.autoclearFeatures.lo & AUTOCLEAR_BITMAPS ? { dirOffset: bm.directoryOffset, dirSize: bm.directorySize, count: bm.nbBitmaps } : null,
      onDisk: await OnDiskRefcounts.load(io, info, reftable, nb, { signal: opts.signal }),
      sink: new FindingSink(0),
      res: emptySummary(),
      signal: opts.signal,
      onProgress: opts.onProgress,
    };
    const { mem } = await new ReferenceWalk(ctx, { copiedInline: false, fixAll: false }).run();
    return summarize(t.path, info.clusterSize, fileSize, nb, mem.counts, mem.owners, ctx.onDisk, cb, opts.maxRanges ?? 100_000);
  } catch (err) {
    if (err instanceof CheckAbort) throw new Qcow2Error('bad-image', err.qemuLine.replace(/^ERROR /, ''), t.path);
    throw err;
  }
}

function summarize(
  file: string,
  clusterSize: number,
  fileSize: number,
  nb: number,
  counts: ArrayLike<number>,
  owners: Uint8Array,
  onDisk: OnDiskRefcounts,
  cb: ((category: UsageCategory, ranges: ClusterRange[], clusters: number) => void) | undefined,
  maxRanges: number,
): ClusterUsage {
  const entries = new Map<UsageCategory, UsageEntry>();
  const entry = (c: UsageCategory): UsageEntry => {
    let e = entries.get(c);
    if (!e) {
      e = { category: c, label: USAGE_LABELS[c], clusters: 0, bytes: 0, ranges: [], rangesTruncated: false };
      entries.set(c, e);
    }
    return e;
  };
  let shared = 0;
  let runCat: UsageCategory | undefined;
  let runStart = 0;
  const close = (end: number): void => {
    if (runCat === undefined) return;
    const e = entry(runCat);
    if (e.ranges.length < maxRanges) e.ranges.push({ first: runStart, last: end - 1 });
    else e.rangesTruncated = true;
  };
  for (let i = 0; i < nb; i++) {
    const c = counts[i];
    if (c > 1) shared++;
    const cat: UsageCategory = c > 0 ? CATEGORY_OF[owners[i] as Owner] : onDisk.get(i) > 0 ? 'leaked' : 'free';
    const e = entry(cat);
    e.clusters++;
    e.bytes += Math.min(clusterSize, fileSize - i * clusterSize);
    if (cat !== runCat) {
      close(i);
      runCat = cat;
      runStart = i;
    }
  }
  close(nb);
  const categories = ORDER.filter((c) => entries.has(c)).map((c) => entries.get(c)!);
  if (cb) for (const e of categories) cb(e.category, e.ranges, e.clusters);
  return { file, clusterSize, fileSize, hostClusters: nb, sharedClusters: shared, categories };
}
