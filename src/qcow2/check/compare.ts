/**
 * compare_refcounts: the rebuilt counts against the on-disk ones. On disk lower is a corruption, higher a
 * leak; a zero on disk for a used cluster means the refcount structure itself must be rebuilt.
 */
import { hex, type CheckFinding } from './findings';
import type { PassContext } from './context';
import { Owner, OWNER_NAMES, type RefcountArray } from './refcount-rebuild';

export interface Mismatch {
  cluster: number;
  onDisk: number;
  reference: number;
}

export interface CompareResult {
  highestCluster: number;
  rebuild: boolean;
  mismatches: Mismatch[];
  /** Mismatches not kept in `mismatches` (too many); their count is in the summary. */
  mismatchesDropped: number;
}

const MAX_KEPT_MISMATCHES = 1_000_000;

/**
 * Walks every tracked cluster. With `record`, counts and reports mismatches in ctx.res/ctx.sink; mismatches
 * are always returned so a repair can act on them.
 */
export function compareRefcounts(ctx: PassContext, mem: RefcountArray, overlaps: Map<number, Owner[]>, record: boolean, beyond: number[] = []): CompareResult {
  const out: CompareResult = { highestCluster: 0, rebuild: false, mismatches: [], mismatchesDropped: 0 };
  const n = ctx.nbClusters + beyond.length;
  const disk = ctx.onDisk;
  const counts = mem.counts;
  const bad = disk.badRefblocks.size > 0;
  const diskCounts = disk.counts;
  const cs = ctx.info.clusterSize;
  for (let i = 0; i < n; i++) {
    const r2 = i < counts.length ? counts[i] : 0;
    const r1 = i >= ctx.nbClusters ? beyond[i - ctx.nbClusters] : bad ? disk.get(i) : diskCounts[i];
    if (r1 < 0) {
      if (record) {
        ctx.res.checkErrors++;
        ctx.sink.add({
          kind: 'check-error',
          severity: 'error',
          hostOffset: i * cs,
          message: `refcount of cluster ${i} cannot be read: its refcount block offset is not cluster-aligned`,
          qemuLine: `Can't get refcount for cluster ${i}: Input/output error`,
        });
      }
      continue;
    }
    if (r1 > 0 || r2 > 0) out.highestCluster = i;
    if (r1 === r2) continue;
    if (r1 === 0) out.rebuild = true;
    if (out.mismatches.length < MAX_KEPT_MISMATCHES) out.mismatches.push({ cluster: i, onDisk: r1, reference: r2 });
    else out.mismatchesDropped++;
    if (record) {
      if (r1 < r2) ctx.res.corruptions++;
      else ctx.res.leaks++;
      ctx.sink.add(mismatchFinding(ctx, i, r1, r2, mem, overlaps, false));
    }
  }
  return out;
}

/**
 * The on-disk refcounts of clusters referenced past the last cluster of the file (a table ending less than a
 * cluster past the end): QEMU grows its count array for them and compares them too. Bounded: the walk counts
 * such references only within one cluster of the end.
 */
export async function diskBeyondEnd(ctx: PassContext, mem: RefcountArray): Promise<number[]> {
  const out: number[] = [];
  for (let c = ctx.nbClusters; c < Math.min(mem.length, ctx.nbClusters + 64); c++) out.push(await ctx.onDisk.at(c));
  return out;
}

export function mismatchFinding(
  ctx: PassContext,
  i: number,
  r1: number,
  r2: number,
  mem: RefcountArray,
  overlaps: Map<number, Owner[]>,
  repairing: boolean,
): CheckFinding {
  const cs = ctx.info.clusterSize;
  const label = repairing ? 'Repairing' : r1 < r2 ? 'ERROR' : 'Leaked';
  const qemuLine = `${label} cluster ${i} refcount=${ctx.onDisk.text(i, r1)} reference=${r2}`;
  if (r1 < r2) {
    const owners = overlaps.get(i);
    const uses = owners ? ` (used as ${[...new Set(owners)].map((o) => OWNER_NAMES[o]).join(' and ')})` : r2 ? ` (${OWNER_NAMES[mem.owners[i] as Owner]})` : '';
    return {
      kind: 'refcount-too-low',
      severity: 'corruption',
      hostOffset: i * cs,
      message: `cluster ${i} at host offset 0x${hex(i * cs)} is referenced ${r2} time${r2 === 1 ? '' : 's'}${uses} but its refcount is ${r1}; writing to the image could overwrite live data`,
      qemuLine,
      repaired: repairing || undefined,
    };
  }
  return {
    kind: 'leaked-cluster',
    severity: 'leak',
    hostOffset: i * cs,
    message: `cluster ${i} at host offset 0x${hex(i * cs)} has refcount ${r1} but ${r2 ? `only ${r2} reference${r2 === 1 ? '' : 's'}` : 'nothing uses it'}; it wastes space but harms no data`,
    qemuLine,
    repaired: repairing || undefined,
  };
}
