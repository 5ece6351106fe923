/**
 * Rebuilds every reference from the metadata, in qemu-img check's order (header, active L1/L2, snapshots,
 * snapshot table, refcount table, encryption header, bitmaps, refcount blocks), checking entries on the way.
 * Counts and classifications follow QEMU's qcow2_check_refcounts so that the numbers agree.
 *
 * QEMU walks an L2 table once per reference to it, so snapshots sharing tables (the normal case) cost
 * snapshots × L2 entries, and a hostile image can make that hours. Here each distinct L1 table and each distinct
 * L2 table is walked once per walk context (the active L1; all snapshots), at its first reference, and whatever
 * it counts (references, findings, allocation figures) is counted as many times as it is referenced: the
 * same totals, and the same first owner of every cluster, as a walk per reference.
 */
import { u32 } from '../format/bytes';
import { entryOffset } from '../format/entries';
import type { DeferredCopied, PassContext, ReferenceCounting, WalkOptions } from './context';
import {
  hex,
  l1CopiedFinding,
  l1EntryReserved,
  l1EntryUnaligned,
  l2CopiedFinding,
  referenceBeyondEof,
  refblockOutsideImage,
  refblockRefcount,
  refblockUnaligned,
  refcountOverflow,
  reftableEntryReserved,
  snapshotL1TooLarge,
  snapshotL1Unaligned,
  snapshotsWithDataFile,
  type CheckFinding,
} from './findings';
import { countBitmaps } from './bitmap-refs';
import { checkL2 } from './l2-entries';
import { refblockOffsetAt, reftableEntryReserved as reftableEntryHasReservedBits } from './ondisk';
import { Owner, OWNER_NAMES, RefcountArray } from './refcount-rebuild';
import { forEachRegion, readZeroFilled, throwIfAborted } from './walk-l1l2';

export type { CheckProgress, PassContext, WalkOptions } from './context';

const MAX_L1_ENTRIES = (32 * 1024 * 1024) / 8;
/** Snapshot L1 bytes kept between counting their L2 references and walking them (more is read again). */
const KEPT_L1_BYTES = 16 * 1024 * 1024;

/** A distinct snapshot L1 table: how many snapshots use it, whether walked, its bytes while kept. */
interface SnapshotL1 {
  offset: number;
  size: number;
  times: number;
  walked: boolean;
  bytes?: Uint8Array;
}

/** L2 table offset → references to it not yet walked, in one walk context. */
type L2Refs = Map<number, number>;

export interface WalkResult {
  mem: RefcountArray;
  rebuild: boolean;
  zeroFixes: { at: number; bytes: Uint8Array }[];
  /** Overlaps noticed: cluster → owners, bounded. */
  overlaps: Map<number, Owner[]>;
}

/** Snapshots share L2 tables and data with the image; compressed clusters share host clusters. */
function sharingIsNormal(a: Owner, b: Owner): boolean {
  const family = (o: Owner): Owner => (o === Owner.SnapshotL2 ? Owner.L2 : o);
  return family(a) === family(b) && (family(a) === Owner.L2 || a === Owner.Data || a === Owner.Compressed);
}

/**
 * The reference walk: rebuilds every cluster's reference count (and its first owner) from the metadata, checking
 * entries on the way; compare.ts then holds the result against the on-disk refcounts.
 */
export class ReferenceWalk implements ReferenceCounting {
  readonly mem: RefcountArray;
  readonly overlaps = new Map<number, Owner[]>();
  rebuild = false;
  /** L1 tables walked so far, for progress. */
  private l1Walked = 0;
  private readonly cs: number;
  private readonly hasDataFile: boolean;
  /** Entries to rewrite as zero clusters (-r all), written by the caller before any refcount repair. */
  readonly zeroFixes: { at: number; bytes: Uint8Array }[] = [];
  /** The same fixes by the cluster they are in: an L2 table read later in the pass sees them, as QEMU's re-read would. */
  private readonly fixesByCluster = new Map<number, { at: number; bytes: Uint8Array }[]>();
  /** Active-L2 COPIED checks for clusters past the tracked range, resolved after the walk. */
  private readonly deferredCopied: DeferredCopied[] = [];
  /** L2 tables walked (each distinct table once per walk context), for tests of the bound. */
  l2TablesWalked = 0;

  constructor(
    readonly ctx: PassContext,
    readonly opts: WalkOptions,
  ) {
    this.mem = new RefcountArray(ctx.file, ctx.info.refcountBits, ctx.nbClusters);
    this.cs = ctx.info.clusterSize;
    this.hasDataFile = ctx.info.hasDataFile;
  }

  /** Counts a finding `times` times: once per reference to the table it was found in. */
  finding(f: CheckFinding, times = 1): void {
    if (f.severity === 'corruption') this.ctx.res.corruptions += times;
    else if (f.severity === 'leak') this.ctx.res.leaks += times;
    else this.ctx.res.checkErrors += times;
    this.ctx.sink.add(f, times);
  }

  /** Records that `owner` also uses cluster k, unless sharing it is normal (bounded). */
  private noteOverlap(k: number, owner: Owner): void {
    if (this.overlaps.size >= 1000) return;
    const prev = this.mem.owners[k] as Owner;
    if (sharingIsNormal(prev, owner)) return;
    const list = this.overlaps.get(k) ?? [prev];
    list.push(owner);
    this.overlaps.set(k, list);
  }

  /**
   * qcow2_inc_refcounts_imrt, `times` times: that many more references to every cluster of [offset, offset+size),
   * with the findings and overflows of as many single calls.
   */
  inc(offset: number, size: number, owner: Owner, offsetHex = hex(offset), times = 1): void {
    if (size <= 0) return;
    const cs = this.cs;
    if (!Number.isFinite(offset) || offset + size - this.ctx.fileSize >= cs) {
      this.finding(referenceBeyondEof(OWNER_NAMES[owner], offset, offsetHex, size, this.ctx.fileSize), times);
      return;
    }
    const first = Math.floor(offset / cs);
    const last = Math.floor((offset + size - 1) / cs);
    const mem = this.mem;
    for (let k = first; k <= last; k++) {
      const before = k < mem.length ? mem.counts[k] : 0;
      if (before > 0) this.noteOverlap(k, owner);
      const overflows = times === 1 ? (mem.inc(k, owner) ? 0 : 1) : mem.add(k, owner, times);
      if (times > 1) this.noteOverlap(k, owner); // the further references find the first one there
      if (overflows) this.finding(refcountOverflow(k * cs, this.ctx.info.refcountBits), overflows);
    }
  }

  async run(): Promise<WalkResult> {
    const { ctx } = this;
    const h = ctx.header;
    this.inc(0, this.cs, Owner.Header);
    await this.checkL1(h.l1TableOffset, h.l1Size, true, undefined, 1, this.countL2Refs(ctx.l1, 1, new Map()));

    if (this.hasDataFile && ctx.snapshots.snapshots.length) this.finding(snapshotsWithDataFile(ctx.snapshots.snapshots.length));
    const refs = await this.snapshotRefs();
    for (const sn of ctx.snapshots.snapshots) {
      if (!Number.isFinite(sn.l1Offset) || sn.l1Offset % this.cs !== 0) {
        this.finding(snapshotL1Unaligned(sn));
        this.l1Walked++;
        continue;
      }
      if (sn.l1Size > MAX_L1_ENTRIES) {
        this.finding(snapshotL1TooLarge(sn));
        this.l1Walked++;
        continue;
      }
      const l1 = refs.l1.get(`${sn.l1Offset}:${sn.l1Size}`)!;
      if (l1.walked) {
        // The same L1 table as an earlier snapshot's: all its references were counted there.
        this.l1Walked++;
        ctx.onProgress?.({ phase: 'tables', done: this.l1Walked, total: 1 + ctx.snapshots.snapshots.length });
        continue;
      }
      l1.walked = true;
      await this.checkL1(sn.l1Offset, sn.l1Size, false, sn.id, l1.times, refs.l2, l1.bytes);
      l1.bytes = undefined;
    }
    this.inc(ctx.snapshots.offset, ctx.snapshots.size, Owner.SnapshotTable);
    this.inc(h.refcountTableOffset, ctx.reftable.length, Owner.RefcountTable);
    const crypto = h.extensions.crypto;
    if (crypto && crypto.length) this.inc(crypto.offset, crypto.length, Owner.CryptoHeader);
    if (ctx.bitmaps) await countBitmaps(this, ctx.bitmaps);
    this.checkRefblocks();
    await this.resolveDeferredCopied();
    return { mem: this.mem, rebuild: this.rebuild, overlaps: this.overlaps, zeroFixes: this.zeroFixes };
  }

  /**
   * For the snapshots' walk context: how many snapshots use each distinct L1 table, and how often each L2 table
   * is referenced through all of them (so that each can be walked once, at its first reference).
   */
  private async snapshotRefs(): Promise<{ l1: Map<string, SnapshotL1>; l2: L2Refs }> {
    const l1 = new Map<string, SnapshotL1>();
    for (const sn of this.ctx.snapshots.snapshots) {
      if (!Number.isFinite(sn.l1Offset) || sn.l1Offset % this.cs !== 0 || sn.l1Size > MAX_L1_ENTRIES) continue; // reported, not walked
      const key = `${sn.l1Offset}:${sn.l1Size}`;
      const e = l1.get(key);
      if (e) e.times++;
      else l1.set(key, { offset: sn.l1Offset, size: sn.l1Size, times: 1, walked: false });
    }
    const l2: L2Refs = new Map();
    let kept = 0;
    for (const e of l1.values()) {
      throwIfAborted(this.ctx.signal, this.ctx.file);
      const bytes = await this.readL1(e.offset, e.size);
      this.countL2Refs(bytes, e.times, l2);
      // Kept for the walk (each table read once), within a bound: 65,536 small tables cost 2 reads each otherwise.
      if (kept + bytes.length <= KEPT_L1_BYTES) {
        e.bytes = bytes;
        kept += bytes.length;
      }
    }
    return { l1, l2 };
  }

  /** Adds `times` references to each L2 table the L1 table would have walked (those not wholly past the end of the file). */
  private countL2Refs(l1: Uint8Array, times: number, refs: L2Refs): L2Refs {
    for (let i = 0; i < l1.length / 8; i++) {
      const hi = u32(l1, i * 8);
      const lo = u32(l1, i * 8 + 4);
      if (hi === 0 && lo === 0) continue;
      const l2Offset = entryOffset(hi, lo);
      if (l2Offset < this.ctx.fileSize) refs.set(l2Offset, (refs.get(l2Offset) ?? 0) + times);
    }
    return refs;
  }

  /** A snapshot L1 table: only the entries inside the file (the rest read as zeros, which reference nothing). */
  private async readL1(offset: number, size: number): Promise<Uint8Array> {
    const inFile = Math.max(0, this.ctx.fileSize - offset);
    return readZeroFilled(this.ctx.io, offset, Math.min(size * 8, Math.ceil(inFile / 8) * 8));
  }

  /**
   * check_refcounts_l1 for an L1 table used `times` times (by that many snapshots): the table, its L2 tables and
   * everything they reference. An L2 table is walked only at its first reference in `l2Refs`, for all of them.
   */
  private async checkL1(
    l1Offset: number,
    l1Size: number,
    active: boolean,
    snapshot: string | undefined,
    times: number,
    l2Refs: L2Refs,
    read?: Uint8Array,
  ): Promise<void> {
    const { ctx } = this;
    if (!l1Size) {
      this.l1Walked++;
      return;
    }
    this.inc(l1Offset, l1Size * 8, active ? Owner.L1 : Owner.SnapshotL1, undefined, times);
    const l1 = active ? ctx.l1 : (read ?? (await this.readL1(l1Offset, l1Size)));
    const shared = times > 1 ? ` (counted ${times} times: ${times} snapshots share this L1 table)` : '';
    const tableName = active ? '' : `snapshot ${snapshot} `;
    const regions: { offset: number; length: number; tag: { l1Index: number; times: number } }[] = [];
    for (let i = 0; i < l1.length / 8; i++) {
      const hi = u32(l1, i * 8);
      const lo = u32(l1, i * 8 + 4);
      if (hi === 0 && lo === 0) continue;
      const l2Offset = entryOffset(hi, lo);
      if (hi & 0x7f000000 || lo & 0x1ff) this.finding(l1EntryReserved(l1Offset + i * 8, tableName, snapshot, i, hi, lo, shared), times);
      this.inc(l2Offset, this.cs, active ? Owner.L2 : Owner.SnapshotL2, undefined, times);
      if (l2Offset % this.cs !== 0)
        this.finding(l1EntryUnaligned(l2Offset, tableName, snapshot, i, active ? i * ctx.info.l1EntrySpan : undefined, shared), times);
      // A table wholly past the end of the file reads as zeros: nothing in it to count or check (not in l2Refs).
      // One already walked in this context is no longer in l2Refs: its walk counted this reference too.
      const refs = l2Refs.get(l2Offset);
      if (refs !== undefined) {
        l2Refs.delete(l2Offset);
        regions.push({ offset: l2Offset, length: ctx.info.l2Entries * ctx.info.l2EntryBytes, tag: { l1Index: i, times: refs } });
      }
    }
    // Progress counts L1 tables (the image's, then each snapshot's), with the fraction of the current one.
    const tablesTotal = 1 + ctx.snapshots.snapshots.length;
    const base = this.l1Walked;
    const n = regions.length;
    const walkL2 = (table: Uint8Array, r: (typeof regions)[number]): void => {
      this.l2TablesWalked++;
      checkL2(this, table, r.offset, r.tag.l1Index, active, snapshot, r.tag.times);
    };
    await forEachRegion(ctx.io, regions, walkL2, {
      signal: ctx.signal,
      onRegions: (done) => ctx.onProgress?.({ phase: 'tables', done: base + done / n, total: tablesTotal }),
    });
    this.l1Walked++;
    if (!n) ctx.onProgress?.({ phase: 'tables', done: this.l1Walked, total: tablesTotal });
    if (active && this.opts.copiedInline) this.checkL1Copied(l1, l1Size);
  }

  /** check_oflag_copied for L1 entries: COPIED must be set exactly when the L2 table's refcount is 1. */
  private checkL1Copied(l1: Uint8Array, l1Size: number): void {
    for (let i = 0; i < l1Size; i++) {
      const hi = u32(l1, i * 8);
      const lo = u32(l1, i * 8 + 4);
      const l2Offset = entryOffset(hi, lo);
      if (!l2Offset) continue;
      const cluster = Math.floor(l2Offset / this.cs);
      if (cluster >= this.ctx.onDisk.length) {
        this.deferredCopied.push({ cluster, copied: (hi & 0x80000000) !== 0, hi, lo, guest: -1 - i, times: 1 });
        continue;
      }
      const refcount = this.ctx.onDisk.get(cluster);
      if (refcount < 0) continue;
      this.copiedMismatch(refcount, (hi & 0x80000000) !== 0, hi, lo, -1 - i);
    }
  }

  /** Records a COPIED mismatch (`times` times); `guest` >= 0 is a data cluster's guest offset, < 0 encodes an L1 index. */
  copiedMismatch(refcount: number, copied: boolean, hi: number, lo: number, guest: number, times = 1): void {
    if ((refcount === 1) === copied) return;
    if (guest < 0) {
      const f = l1CopiedFinding(this.ctx.header.l1TableOffset, -1 - guest, hi, lo, refcount);
      this.finding({ ...f, qemuLine: `ERROR${f.qemuLine}` });
    } else {
      const note = times > 1 ? ` (counted ${times} times: the L1 table references its L2 table ${times} times)` : '';
      const f = l2CopiedFinding(entryOffset(hi, lo), guest, hi, lo, refcount, note);
      this.finding({ ...f, qemuLine: `ERROR${f.qemuLine}` }, times);
    }
  }

  deferCopied(d: DeferredCopied): void {
    this.deferredCopied.push(d);
  }

  addZeroFix(at: number, bytes: Uint8Array): void {
    this.zeroFixes.push({ at, bytes });
    const c = Math.floor(at / this.cs);
    const inCluster = this.fixesByCluster.get(c) ?? [];
    inCluster.push({ at, bytes });
    this.fixesByCluster.set(c, inCluster);
  }

  get hasFixes(): boolean {
    return this.fixesByCluster.size > 0;
  }

  private async resolveDeferredCopied(): Promise<void> {
    for (const d of this.deferredCopied) {
      const refcount = await this.ctx.onDisk.at(d.cluster);
      if (refcount >= 0) this.copiedMismatch(refcount, d.copied, d.hi, d.lo, d.guest, d.times);
    }
    this.deferredCopied.length = 0;
  }

  /** Puts the entries fixed so far into a table read since (an L2 table shared by the active L1 and snapshots). */
  applyFixes(table: Uint8Array, l2Offset: number): void {
    const end = l2Offset + table.length;
    for (let c = Math.floor(l2Offset / this.cs); c * this.cs < end; c++) {
      for (const f of this.fixesByCluster.get(c) ?? []) {
        const from = Math.max(f.at, l2Offset);
        const to = Math.min(f.at + f.bytes.length, end);
        if (from < to) table.set(f.bytes.subarray(from - f.at, to - f.at), from - l2Offset);
      }
    }
  }

  /** check_refblocks: every refcount block must be inside the file and referenced exactly once. */
  private checkRefblocks(): void {
    const { ctx, cs } = this;
    const entries = ctx.reftable.length / 8;
    for (let i = 0; i < entries; i++) {
      const offset = refblockOffsetAt(ctx.reftable, i);
      if (reftableEntryHasReservedBits(ctx.reftable, i)) {
        this.finding(reftableEntryReserved(ctx.header.refcountTableOffset + i * 8, i));
        this.rebuild = true;
        continue;
      }
      if (offset % cs !== 0) {
        this.finding(refblockUnaligned(offset, i));
        this.rebuild = true;
        continue;
      }
      const cluster = offset / cs;
      if (cluster >= ctx.nbClusters) {
        this.finding(refblockOutsideImage(offset, i, this.opts.fixAll));
        if (this.opts.fixAll) this.rebuild = true; // QEMU grows the file; rebuilding elsewhere is as good
        continue;
      }
      if (offset !== 0) {
        this.inc(offset, cs, Owner.RefcountBlock);
        const rc = this.mem.get(cluster);
        if (rc !== 1) {
          this.finding(refblockRefcount(offset, i, rc));
          this.rebuild = true;
        }
      }
    }
  }
}
