/**
 * Repairs, as `qemu-img check -r leaks|all` does them, with writes ordered so that a crash part-way leaves
 * at worst leaks:
 *  - refcount fixes: increments are written and synced before any decrement;
 *  - rebuild: new refcount blocks and table go to clusters nothing uses, are synced, and only then does the
 *    header switch to them (synced); the old structure is then merely leaked and freed by a decrement pass;
 *  - COPIED fixes change flag bits only, once the refcounts are right.
 */
import { setU32, setU64, u32 } from '../format/bytes';
import { entryOffset } from '../format/entries';
import { Qcow2Error } from '../errors';
import { getRefcount, setRefcount } from '../format/refcount-codec';
import { MAX_REFTABLE_BYTES } from '../format/header';
import { hex, l1CopiedFinding, l2CopiedFinding, type CheckFinding } from './findings';
import type { PassContext } from './context';
import { mismatchFinding, type Mismatch } from './compare';
import { refblockOffsetAt } from './ondisk';
import { Owner, type RefcountArray } from './refcount-rebuild';
import { readZeroFilled } from './walk-l1l2';
import { overlapsMetadata } from './overlap';

export function requireWritable(ctx: PassContext): void {
  if (ctx.io.readOnly) throw new Qcow2Error('read-only', 'cannot repair an image opened read-only', ctx.file);
}

/**
 * Sets on-disk refcounts to the rebuilt values for the given mismatches (all in existing refblocks).
 * Returns the mismatches it fixed. Increments land (and are synced) before decrements.
 */
export async function fixRefcounts(ctx: PassContext, todo: Mismatch[], mem: RefcountArray, overlaps: Map<number, Owner[]>, report = true): Promise<Mismatch[]> {
  requireWritable(ctx);
  const fixed: Mismatch[] = [];
  const ups = todo.filter((m) => m.onDisk < m.reference);
  const downs = todo.filter((m) => m.onDisk > m.reference);
  for (const group of [ups, downs]) {
    if (!group.length) continue;
    const byBlock = new Map<number, Mismatch[]>();
    for (const m of group) {
      const index = Math.floor(m.cluster / ctx.info.refblockEntries);
      const list = byBlock.get(index) ?? [];
      list.push(m);
      byBlock.set(index, list);
    }
    for (const [index, list] of byBlock) {
      const off = index < ctx.reftable.length / 8 ? refblockOffsetAt(ctx.reftable, index) : 0;
      if (!off || !Number.isFinite(off) || off % ctx.info.clusterSize !== 0) continue; // needs a rebuild instead
      const block = await readZeroFilled(ctx.io, off, ctx.info.clusterSize);
      for (const m of list) {
        setRefcount(block, m.cluster % ctx.info.refblockEntries, ctx.info.refcountBits, m.reference);
        if (m.cluster < ctx.onDisk.length) ctx.onDisk.counts[m.cluster] = m.reference;
        // Without `report`, the caller prints the repair line, and forgets the exact old value after it.
        if (report) {
          ctx.sink.add(mismatchFinding(ctx, m.cluster, m.onDisk, m.reference, mem, overlaps, true));
          ctx.onDisk.rewritten(m.cluster);
        }
        fixed.push(m);
      }
      await ctx.io.writeAt(block, off);
    }
    await ctx.io.fsync();
  }
  return fixed;
}

/** First-fit allocation of `count` contiguous clusters free in `mem`, at or after *from (alloc_clusters_imrt). */
function allocInMemory(mem: RefcountArray, count: number, from: { cluster: number }, owner: Owner): number {
  let cluster = from.cluster;
  let run = 0;
  let firstGap = true;
  for (; cluster < mem.length && run < count; cluster++) {
    if (mem.counts[cluster] === 0) {
      run++;
      if (firstGap) {
        from.cluster = cluster;
        firstGap = false;
      }
    } else run = 0;
  }
  if (run < count) {
    const needed = cluster + count - run;
    mem.grow(needed);
    cluster = needed;
    run = count;
  }
  const start = cluster - run;
  for (let i = 0; i < count; i++) mem.set(start + i, 1, owner);
  return start;
}

/**
 * rebuild_refcount_structure: writes refcount blocks and a refcount table describing `mem` into free
 * clusters, then points the header at them. The old structure becomes leaked clusters.
 */
export async function rebuildRefcountStructure(ctx: PassContext, mem: RefcountArray): Promise<{ reftableOffset: number; reftableClusters: number }> {
  requireWritable(ctx);
  const { clusterSize: cs, refblockEntries: perBlock, refcountBits: bits } = ctx.info;
  const reftable: number[] = [];

  const writeRefblocks = async (first: number, endCluster: number): Promise<boolean> => {
    let end = endCluster;
    const from = { cluster: 0 };
    let grown = false;
    for (let cluster = first; cluster < end; cluster++) {
      if (mem.get(cluster) === 0) continue;
      const index = Math.floor(cluster / perBlock);
      const start = index * perBlock;
      let offset: number;
      if (index < reftable.length && reftable[index]) offset = reftable[index];
      else {
        if (from.cluster < start) from.cluster = start; // never inside a refblock already written
        const c = allocInMemory(mem, 1, from, Owner.RefcountBlock);
        offset = c * cs;
        if (c >= end) end = c + 1; // the block holding this refblock's own refcount must be written too
        if (reftable.length <= index) {
          const entries = Math.ceil(((index + 1) * 8) / cs) * (cs / 8);
          while (reftable.length < entries) reftable.push(0);
          grown = true;
        }
        reftable[index] = offset;
      }
      const block = new Uint8Array(cs);
      for (let i = 0; i < perBlock; i++) {
        const v = mem.get(start + i);
        if (v) setRefcount(block, i, bits, v);
      }
      await ctx.io.writeAt(block, offset);
      cluster = start + perBlock - 1;
    }
    return grown;
  };

  await writeRefblocks(0, mem.length);
  let reftableOffset = 0;
  let reftableClusters = 0;
  let grown = true;
  while (grown) {
    reftableClusters = Math.ceil((reftable.length * 8) / cs);
    if (reftableClusters * cs > MAX_REFTABLE_BYTES) {
      throw new Qcow2Error('limit', 'rebuilt refcount table would exceed 8 MiB', ctx.file);
    }
    const c = allocInMemory(mem, reftableClusters, { cluster: 0 }, Owner.RefcountTable);
    reftableOffset = c * cs;
    grown = await writeRefblocks(c, c + reftableClusters);
  }
  const table = new Uint8Array(reftableClusters * cs);
  reftable.forEach((off, i) => setU64(table, i * 8, off));
  await ctx.io.writeAt(table, reftableOffset);
  await ctx.io.fsync();
  // Switch the header to the new table in one small write.
  const ptr = new Uint8Array(12);
  setU64(ptr, 0, reftableOffset);
  setU32(ptr, 8, reftableClusters);
  await ctx.io.writeAt(ptr, 48);
  await ctx.io.fsync();
  ctx.header.refcountTableOffset = reftableOffset;
  ctx.header.refcountTableClusters = reftableClusters;
  return { reftableOffset, reftableClusters };
}

/** Reads one on-disk refcount (after repairs), or -1 when it cannot be read. */
async function diskRefcount(ctx: PassContext, cluster: number): Promise<number> {
  if (cluster < ctx.onDisk.length) return ctx.onDisk.get(cluster);
  return ctx.onDisk.at(cluster);
}

/** One scan of an L2 table by checkCopiedFlags: the entries whose COPIED flag disagrees with the refcount. */
interface CopiedScan {
  wrong: { index: number; hi: number; lo: number; refcount: number }[];
  /** The table was rewritten with the flags fixed. */
  rewritten: boolean;
  /** A repair was wanted but QEMU's overlap check forbids rewriting the table. */
  overlap: boolean;
}

/**
 * check_oflag_copied with repair: COPIED on active L1 and L2 entries must be set exactly when the refcount
 * is 1. With `repair` it fixes the flags (an L2 table is rewritten only if QEMU's overlap check allows it);
 * otherwise it counts corruptions. An L2 table that several L1 entries point to is scanned once (a hostile
 * L1 may repeat one table millions of times): each later reference reports what qemu, rereading the table,
 * would find again: nothing once the table was rewritten, else the same entries.
 */
export async function checkCopiedFlags(ctx: PassContext, repair: boolean): Promise<void> {
  if (repair) requireWritable(ctx);
  const cs = ctx.info.clusterSize;
  const l1 = ctx.l1;
  const l1Offset = ctx.header.l1TableOffset;
  const scans = new Map<number, CopiedScan>();
  let wrote = false;
  const count = (n: number, fixed: boolean): void => {
    if (fixed) ctx.res.corruptionsFixed += n;
    else ctx.res.corruptions += n;
  };
  const report = (f: CheckFinding, fixedIt: boolean): void => {
    count(1, fixedIt);
    ctx.sink.add({ ...f, repaired: fixedIt || undefined, qemuLine: `${fixedIt ? 'Repairing' : 'ERROR'}${f.qemuLine}` });
  };
  for (let i = 0; i < ctx.header.l1Size; i++) {
    let hi = u32(l1, i * 8);
    const lo = u32(l1, i * 8 + 4);
    const l2Offset = entryOffset(hi, lo);
    if (!l2Offset) continue;
    const rc = await diskRefcount(ctx, Math.floor(l2Offset / cs));
    if (rc >= 0 && (rc === 1) !== ((hi & 0x80000000) !== 0)) {
      const f = l1CopiedFinding(l1Offset, i, hi, lo, rc);
      if (repair) {
        hi = rc === 1 ? (hi | 0x80000000) >>> 0 : hi & 0x7fffffff;
        setU32(l1, i * 8, hi);
        await ctx.io.writeAt(l1.subarray(i * 8, i * 8 + 8), l1Offset + i * 8);
        wrote = true;
      }
      report(f, repair);
    }
    let scan = scans.get(l2Offset);
    const first = !scan;
    if (!scan) {
      scan = await scanCopiedFlags(ctx, l2Offset, repair);
      scans.set(l2Offset, scan);
      wrote ||= scan.rewritten;
    } else if (scan.rewritten) continue;
    if (scan.overlap) {
      ctx.res.checkErrors++;
      ctx.sink.add({
        kind: 'check-error',
        severity: 'error',
        hostOffset: l2Offset,
        message: `L2 table at 0x${hex(l2Offset)} overlaps other metadata; not rewriting it`,
        qemuLine: 'ERROR: Could not write L2 table; metadata overlap check failed: Input/output error',
      });
    }
    const fixed = first && scan.rewritten;
    if (ctx.sink.full) {
      count(scan.wrong.length, fixed);
      ctx.sink.drop(scan.wrong.length);
      continue;
    }
    for (const w of scan.wrong) {
      report(l2CopiedFinding(entryOffset(w.hi, w.lo), i * ctx.info.l1EntrySpan + w.index * cs, w.hi, w.lo, w.refcount), fixed);
    }
  }
  if (wrote) await ctx.io.fsync();
}

/** Reads one L2 table, finds the entries with a wrong COPIED flag and, with `repair`, rewrites the table fixed. */
async function scanCopiedFlags(ctx: PassContext, l2Offset: number, repair: boolean): Promise<CopiedScan> {
  const { clusterSize: cs, l2Entries, l2EntryBytes } = ctx.info;
  const table = await readZeroFilled(ctx.io, l2Offset, l2Entries * l2EntryBytes);
  const scan: CopiedScan = { wrong: [], rewritten: false, overlap: false };
  for (let j = 0; j < l2Entries; j++) {
    const o = j * l2EntryBytes;
    const ehi = u32(table, o);
    const elo = u32(table, o + 4);
    if (ehi & 0x40000000) continue; // compressed
    const off = entryOffset(ehi, elo);
    const copied = (ehi & 0x80000000) !== 0;
    const zeroFlag = !ctx.info.extendedL2 && (elo & 1) !== 0;
    const normal = off !== 0 || (ctx.info.hasDataFile && copied && !zeroFlag);
    if (!normal) continue;
    const dc = Math.floor(off / cs);
    const rc = ctx.info.hasDataFile ? 1 : dc < ctx.onDisk.length ? ctx.onDisk.get(dc) : await ctx.onDisk.at(dc);
    if (rc < 0 || (rc === 1) === copied) continue;
    scan.wrong.push({ index: j, hi: ehi, lo: elo, refcount: rc });
    if (repair) setU32(table, o, rc === 1 ? (ehi | 0x80000000) >>> 0 : ehi & 0x7fffffff);
  }
  if (!repair || scan.wrong.length === 0) return scan;
  // QEMU's overlap check before the write, which lets an active L2 table (even a shared one) be rewritten.
  if (l2Offset % cs !== 0 || overlapsMetadata(ctx, l2Offset, true)) {
    scan.overlap = true;
    return scan;
  }
  await ctx.io.writeAt(table, l2Offset);
  scan.rewritten = true;
  return scan;
}

/** qcow2_mark_clean + qcow2_mark_consistent: clears the dirty and corrupt bits once the image is sound. */
export async function markClean(ctx: PassContext): Promise<void> {
  const h = ctx.header;
  if (h.version < 3 || (h.incompatibleFeatures.lo & 3) === 0) return;
  requireWritable(ctx);
  h.incompatibleFeatures = { hi: h.incompatibleFeatures.hi, lo: (h.incompatibleFeatures.lo & ~3) >>> 0 };
  const b = new Uint8Array(8);
  setU32(b, 0, h.incompatibleFeatures.hi);
  setU32(b, 4, h.incompatibleFeatures.lo);
  await ctx.io.fsync();
  await ctx.io.writeAt(b, 72);
  await ctx.io.fsync();
}

export { getRefcount };
