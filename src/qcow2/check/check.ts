/**
 * The integrity check (and repair), following qemu-img check: a pass rebuilds the references, compares them
 * with the on-disk refcounts and checks COPIED flags; with a repair mode the pass fixes what it may, and a
 * second, read-only pass then reports what is left (its counters plus the first pass's "fixed" ones).
 */
import { Qcow2Error } from '../errors';
import { AUTOCLEAR_BITMAPS, AUTOCLEAR_KNOWN, type Qcow2Header } from '../format/header';
import { HEADER_AUTOCLEAR_OFFSET, writeFeatureWord } from '../format/header-write';
import type { Qcow2Info } from '../format/info';
import type { Qcow2IoOps } from '../io/ops';
import { ReferenceWalk, type CheckProgress, type PassContext } from './walk';
import { compareRefcounts, diskBeyondEnd, mismatchFinding } from './compare';
import { emptySummary, exitCodeFor, FindingSink, type CheckFinding, type CheckResult, type CheckSummary } from './findings';
import { OnDiskRefcounts } from './ondisk';
import { checkTrackable, Owner, type RefcountArray } from './refcount-rebuild';
import { checkCopiedFlags, fixRefcounts, markClean, rebuildRefcountStructure, requireWritable } from './repair';
import { rewriteSnapshotTable } from './snapshot-rewrite';
import { CheckAbort, readSnapshotsForCheck, type CheckSnapshotTable } from './tables';
import { setU32 } from '../format/bytes';
import { readZeroFilled, throwIfAborted } from './walk-l1l2';

export type RepairMode = 'leaks' | 'all';

export interface CheckOptions {
  repair?: RepairMode;
  onProgress?: (p: CheckProgress) => void;
  signal?: AbortSignal;
  /** Most findings kept (counts stay exact beyond it). Default 10000. */
  maxFindings?: number;
}

/** What check needs from an open image: its file, parsed header and derived geometry. */
export interface CheckTarget {
  path: string;
  io: Qcow2IoOps;
  header: Qcow2Header;
  info: Qcow2Info;
}

export interface CheckResultEx extends CheckResult {
  /** Set when the check could not run to the end (qemu-img prints "Check failed" and exits 1). */
  failure?: string;
}

/** Reads what one pass needs (exported for tests that run a ReferenceWalk alone). */
export async function newPass(
  t: CheckTarget,
  opts: CheckOptions,
  sink: FindingSink,
  res: CheckSummary,
  snapshotsRead?: CheckSnapshotTable,
  repairSnapshots = false,
): Promise<PassContext> {
  const { io, header: h, info } = t;
  const fileSize = await io.size();
  const nbClusters = Math.ceil(fileSize / info.clusterSize);
  checkTrackable(t.path, nbClusters);
  const reftable = await readZeroFilled(io, h.refcountTableOffset, h.refcountTableClusters * info.clusterSize);
  const l1 = await readZeroFilled(io, h.l1TableOffset, h.l1Size * 8);
  const snapshots = snapshotsRead ?? (await readSnapshotsForCheck(io, h.snapshotsOffset, h.nbSnapshots, info.clusterSize, repairSnapshots));
  const bm = h.extensions.bitmaps;
  const bitmaps = bm && h.autoclearFeatures.lo & AUTOCLEAR_BITMAPS ? { dirOffset: bm.directoryOffset, dirSize: bm.directorySize, count: bm.nbBitmaps } : null;
  const onDisk = await OnDiskRefcounts.load(io, info, reftable, nbClusters, {
    signal: opts.signal,
    onRegions: (done) => opts.onProgress?.({ phase: 'refcounts', done, total: reftable.length / 8 }),
  });
  return {
    io,
    file: t.path,
    header: h,
    info,
    fileSize,
    nbClusters,
    l1,
    reftable,
    snapshots,
    bitmaps,
    onDisk,
    sink,
    res,
    signal: opts.signal,
    onProgress: opts.onProgress,
  };
}

/** The v3 rule QEMU checks while reading the snapshot table: every entry has at least 16 bytes of extra data. */
function checkSnapshotEntries(ctx: PassContext, fixAll: boolean): number {
  let bad = 0;
  if (ctx.header.version < 3) return 0;
  for (const sn of ctx.snapshots.snapshots) {
    if (sn.extraSize >= 16) continue;
    bad++;
    ctx.sink.add({
      kind: 'snapshot-table',
      severity: 'corruption',
      snapshot: sn.id,
      message: `snapshot table entry ${sn.index} (${sn.id} ${sn.name}) has only ${sn.extraSize} bytes of extra data; version 3 images need at least 16`,
      qemuLine: `${fixAll ? 'Repairing' : 'ERROR'} snapshot table entry ${sn.index} is incomplete`,
      repaired: fixAll || undefined,
    });
  }
  return bad;
}

/**
 * -r all on a snapshot table QEMU cannot read whole: reports what reading it cut, and when snapshots were
 * discarded writes the new count to the header at once (synced), as QEMU does: their clusters become leaks
 * that the refcount part then frees. Returns how many snapshots were discarded (counted as fixed corruptions).
 */
async function applySnapshotCuts(ctx: PassContext): Promise<number> {
  const sn = ctx.snapshots;
  for (const line of sn.notes) ctx.sink.add({ kind: 'snapshot-table', severity: 'corruption', message: line, qemuLine: line, repaired: true });
  if (!sn.discarded) return 0;
  const count = new Uint8Array(4);
  setU32(count, 0, sn.snapshots.length);
  await ctx.io.writeAt(count, 60);
  await ctx.io.fsync();
  ctx.header.nbSnapshots = sn.snapshots.length;
  return sn.discarded;
}

/** One pass of qcow2_check_refcounts (plus the snapshot-table checks), repairing per `fix`. */
async function runPass(t: CheckTarget, opts: CheckOptions, fix: RepairMode | undefined, sink: FindingSink): Promise<{ res: CheckSummary; failure?: string }> {
  const res = emptySummary();
  res.totalClusters = Math.ceil(t.info.virtualSize / t.info.clusterSize);
  let ctx: PassContext;
  try {
    ctx = await newPass(t, opts, sink, res, undefined, fix === 'all');
  } catch (err) {
    if (err instanceof CheckAbort) return fail(res, sink, err.qemuLine);
    throw err;
  }
  if (fix) requireWritable(ctx);
  // Counted apart, as QEMU's snapshot_res: the refcount part may reset its own counters during a rebuild.
  const discarded = await applySnapshotCuts(ctx);
  const snapshotCorruptions = ctx.snapshots.extraTruncated + checkSnapshotEntries(ctx, fix === 'all');

  let calc: ReferenceWalk;
  let mem: RefcountArray;
  let overlaps: Map<number, Owner[]>;
  let rebuild: boolean;
  try {
    calc = new ReferenceWalk(ctx, { copiedInline: !fix, fixAll: fix === 'all' });
    let zeroFixes: { at: number; bytes: Uint8Array }[];
    ({ mem, rebuild, overlaps, zeroFixes } = await calc.run());
    throwIfAborted(opts.signal, t.path); // last chance before any repair writes
    if (fix) ctx.onProgress?.({ phase: 'repair', done: 0, total: 1 });
    // Dropping references comes before any refcount change (like a decrement).
    for (const z of zeroFixes) await ctx.io.writeAt(z.bytes, z.at);
    if (zeroFixes.length) await ctx.io.fsync();
  } catch (err) {
    if (err instanceof CheckAbort) return fail(res, sink, err.qemuLine);
    throw err;
  }
  ctx.onProgress?.({ phase: 'compare', done: 0, total: 1 });
  const pre = { ...res };
  const preSink = sink.items.length;
  const cmp = compareRefcounts(ctx, mem, overlaps, true, await diskBeyondEnd(ctx, mem));
  // qemu-img prints the COPIED findings (check_oflag_copied) after the refcount comparison; ours come from the walk.
  if (!fix) {
    const walked = sink.items.splice(0, preSink);
    sink.items.unshift(...walked.filter((f) => f.kind !== 'copied-flag'));
    sink.items.push(...walked.filter((f) => f.kind === 'copied-flag'));
  }
  rebuild ||= cmp.rebuild;
  let highest = cmp.highestCluster;

  if (fix === 'all' && rebuild) {
    const old = { ...res };
    sink.add({
      kind: 'refcount-rebuild',
      severity: 'corruption',
      message: 'the refcount structure was rebuilt from the references found',
      qemuLine: 'Rebuilding refcount structure',
      repaired: true,
    });
    await rebuildRefcountStructure(ctx, mem);
    // Recount against the new structure; the old one is now leaked and freed below.
    res.corruptions = 0;
    res.leaks = 0;
    // The walk over the new structure reports again what it finds (qemu-img prints the same lines a second time).
    let ctx2: PassContext;
    let r2: Awaited<ReturnType<ReferenceWalk['run']>>;
    try {
      ctx2 = await newPass(t, opts, sink, res, ctx.snapshots);
      r2 = await new ReferenceWalk(ctx2, { copiedInline: false, fixAll: false }).run();
    } catch (err) {
      // The rebuilt structure must still be readable; if the metadata no longer parses, say so as a check error.
      if (err instanceof CheckAbort) return fail(res, sink, err.qemuLine);
      throw err;
    }
    const fresh = emptySummary();
    const ctx3: PassContext = { ...ctx2, res: fresh, sink };
    const cmp2 = compareRefcounts(ctx3, r2.mem, r2.overlaps, false, await diskBeyondEnd(ctx3, r2.mem));
    const leaks = cmp2.mismatches.filter((m) => m.onDisk > m.reference);
    const fixed = await fixRefcounts(ctx3, leaks, r2.mem, r2.overlaps);
    const freshLeaks = leaks.length - fixed.length + cmp2.mismatchesDropped;
    highest = cmp2.highestCluster;
    if (res.corruptions < old.corruptions) res.corruptionsFixed += old.corruptions - res.corruptions;
    if (res.leaks < old.leaks) res.leaksFixed += old.leaks - res.leaks;
    res.leaks += freshLeaks;
    ctx = ctx3;
    ctx.res = res;
    mem = r2.mem;
  } else if (fix) {
    if (rebuild) return fail(res, sink, 'ERROR need to rebuild refcount structures');
    if (res.leaks || res.corruptions) {
      // Redo the comparison, this time repairing what the mode allows. As QEMU, the first comparison's lines
      // ("Leaked cluster …", "ERROR cluster …") stay printed; the second one's follow in cluster order.
      Object.assign(res, pre);
      const allowed = cmp.mismatches.filter((m) => (m.onDisk > m.reference ? true : fix === 'all'));
      const fixed = new Set((await fixRefcounts(ctx, allowed, mem, overlaps, false)).map((m) => m.cluster));
      for (const m of cmp.mismatches) {
        const up = m.onDisk < m.reference;
        if (fixed.has(m.cluster)) {
          if (up) res.corruptionsFixed++;
          else res.leaksFixed++;
          sink.add(mismatchFinding(ctx, m.cluster, m.onDisk, m.reference, mem, overlaps, true));
          ctx.onDisk.rewritten(m.cluster);
          continue;
        }
        if (up) res.corruptions++;
        else res.leaks++;
        sink.add(mismatchFinding(ctx, m.cluster, m.onDisk, m.reference, mem, overlaps, false));
      }
    }
  }

  if (fix) {
    const repairCopied = fix === 'all' || (!res.checkErrors && !res.corruptions && !res.leaks);
    await checkCopiedFlags(ctx, repairCopied);
  }
  res.imageEndOffset = (highest + 1) * t.info.clusterSize;
  if (snapshotCorruptions && fix === 'all') {
    // qcow2_check_fix_snapshot_table: write the table anew (complete entries), once refcounts are sound.
    if (!res.checkErrors && (await rewriteSnapshotTable(ctx, mem))) res.corruptionsFixed += snapshotCorruptions;
    else res.corruptions += snapshotCorruptions;
  } else res.corruptions += snapshotCorruptions;
  res.corruptionsFixed += discarded;
  if (fix && !res.checkErrors && !res.corruptions) await markClean(ctx);
  if (fix) ctx.onProgress?.({ phase: 'repair', done: 1, total: 1 });
  return { res };
}

function fail(res: CheckSummary, sink: FindingSink, qemuLine: string): { res: CheckSummary; failure: string } {
  res.checkErrors++;
  sink.add({ kind: 'check-error', severity: 'error', message: qemuLine.replace(/^ERROR /, ''), qemuLine });
  return { res, failure: qemuLine.replace(/^ERROR /, '') };
}

/** Checks (and optionally repairs) an image, as `qemu-img check [-r leaks|all]`. */
export async function checkImage(t: CheckTarget, opts: CheckOptions = {}): Promise<CheckResultEx> {
  if (opts.repair && t.io.readOnly) throw new Qcow2Error('read-only', 'cannot repair an image opened read-only', t.path);
  if (opts.repair) await clearUnknownAutoclear(t);
  const sink = new FindingSink(opts.maxFindings);
  const first = await runPass(t, opts, opts.repair, sink);
  if (first.failure) return finish(first.res, sink.items, sink.dropped, undefined, first.failure);
  if (opts.repair && (first.res.corruptionsFixed || first.res.leaksFixed)) {
    const again = new FindingSink(opts.maxFindings);
    const second = await runPass(t, opts, undefined, again);
    second.res.corruptionsFixed = first.res.corruptionsFixed;
    second.res.leaksFixed = first.res.leaksFixed;
    return finish(second.res, again.items, again.dropped, sink.items, second.failure);
  }
  return finish(first.res, sink.items, sink.dropped, undefined, undefined);
}

function finish(
  summary: CheckSummary,
  findings: CheckFinding[],
  dropped: number,
  repairFindings: CheckFinding[] | undefined,
  failure: string | undefined,
): CheckResultEx {
  const out: CheckResultEx = { summary, findings, findingsDropped: dropped, exitCode: failure ? 1 : exitCodeFor(summary) };
  if (repairFindings) out.repairFindings = repairFindings;
  if (failure) out.failure = failure;
  return out;
}

/**
 * A repair writes to the image, so autoclear bits it does not understand must go first (their extensions may be
 * stale afterwards); qemu-img clears them on every read-write open, so also for `check -r` (iotest 036).
 */
async function clearUnknownAutoclear(t: CheckTarget): Promise<void> {
  const ac = t.header.autoclearFeatures;
  if (t.header.version < 3 || (ac.hi === 0 && (ac.lo & ~AUTOCLEAR_KNOWN) === 0)) return;
  const cleared = { hi: 0, lo: (ac.lo & AUTOCLEAR_KNOWN) >>> 0 };
  await writeFeatureWord(t.io, HEADER_AUTOCLEAR_OFFSET, cleared);
  t.header.autoclearFeatures = cleared;
}
