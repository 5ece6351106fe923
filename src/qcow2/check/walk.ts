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
import type { Qcow2IoOps } from '../io/ops';
import type { Qcow2Info } from '../format/info';
import type { Qcow2Header } from '../format/header';
import { u32 } from '../format/bytes';
import { entryOffset } from '../format/entries';
import { emptySummary, FindingSink, hex, hex64, l1CopiedFinding, l2CopiedFinding, type CheckFinding, type CheckSummary } from './findings';
import { OnDiskRefcounts, refblockOffsetAt, reftableEntryReserved } from './ondisk';
import { overlapsMetadata } from './overlap';
import { Owner, OWNER_NAMES, RefcountArray } from './refcount-rebuild';
import { CheckAbort, readBitmapsForCheck, u64Loose, type CheckBitmap, type CheckSnapshotTable } from './tables';
import { forEachRegion, readZeroFilled, throwIfAborted } from './walk-l1l2';

const TWO_32 = 0x1_0000_0000;
const MAX_L1_ENTRIES = (32 * 1024 * 1024) / 8;

/** L2 table offset → references to it not yet walked, in one walk context. */
type L2Refs = Map<number, number>;

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

export interface CalculateOptions {
  /** Check COPIED flags during the walk against the on-disk refcounts (a pass that will not repair). */
  copiedInline: boolean;
  /** -r all: a refblock outside the image is left for the rebuild. */
  fixAll: boolean;
}

export interface CalculateResult {
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

/** A compressed descriptor's host offset (Infinity past 2^53, with exact hex) and on-disk size. */
function decodeCompressed(hi: number, lo: number, clusterBits: number): { offset: number; size: number; hex: string } {
  const hiOffsetBits = 62 - (clusterBits - 8) - 32;
  const offHi = hi & ((1 << hiOffsetBits) - 1);
  const sectors = ((hi & 0x3fffffff) >>> hiOffsetBits) + 1;
  const offset = offHi > 0x1fffff ? Infinity : offHi * TWO_32 + lo;
  return { offset, size: sectors * 512 - (lo & 511), hex: hex64(offHi, lo) };
}

export class Calculator {
  readonly mem: RefcountArray;
  readonly overlaps = new Map<number, Owner[]>();
  rebuild = false;
  /** L1 tables walked so far, for progress. */
  private l1Walked = 0;
  private readonly cs: number;
  private readonly bits: number;
  private readonly hasDataFile: boolean;
  private readonly ext: boolean;
  /** Entries to rewrite as zero clusters (-r all), written by the caller before any refcount repair. */
  readonly zeroFixes: { at: number; bytes: Uint8Array }[] = [];
  /** The same fixes by the cluster they are in: an L2 table read later in the pass sees them, as QEMU's re-read would. */
  private readonly fixesByCluster = new Map<number, { at: number; bytes: Uint8Array }[]>();
  /** Active-L2 COPIED checks for clusters past the tracked range, resolved after the walk. */
  private readonly deferredCopied: { cluster: number; copied: boolean; hi: number; lo: number; guest: number; times: number }[] = [];
  /** L2 tables walked (each distinct table once per walk context), for tests of the bound. */
  l2TablesWalked = 0;

  constructor(
    private readonly ctx: PassContext,
    private readonly opts: CalculateOptions,
  ) {
    this.mem = new RefcountArray(ctx.file, ctx.info.refcountBits, ctx.nbClusters);
    this.cs = ctx.info.clusterSize;
    this.bits = ctx.info.clusterBits;
    this.hasDataFile = ctx.info.hasDataFile;
    this.ext = ctx.info.extendedL2;
  }

  /** Counts a finding `times` times: once per reference to the table it was found in. */
  private finding(f: CheckFinding, times = 1): void {
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
      this.finding({
        kind: 'reference-beyond-eof',
        severity: 'corruption',
        hostOffset: Number.isFinite(offset) ? offset : undefined,
        message: `${OWNER_NAMES[owner]} at host offset 0x${offsetHex} (${size} bytes) lies past the end of the file (${this.ctx.fileSize} bytes)`,
        qemuLine: `ERROR: counting reference for region exceeding the end of the file by one cluster or more: offset 0x${offsetHex} size 0x${hex(size)}`,
      }, times);
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
      if (overflows) {
        this.finding({
          kind: 'refcount-overflow',
          severity: 'corruption',
          hostOffset: k * cs,
          message: `cluster at host offset 0x${hex(k * cs)} has more references than ${this.ctx.info.refcountBits}-bit refcounts can hold`,
          qemuLine: `ERROR: overflow cluster offset=0x${hex(k * cs)}`,
        }, overflows);
      }
    }
  }

  async run(): Promise<CalculateResult> {
    const { ctx } = this;
    const h = ctx.header;
    this.inc(0, this.cs, Owner.Header);
    await this.checkL1(h.l1TableOffset, h.l1Size, true, undefined, 1, this.countL2Refs(ctx.l1, 1, new Map()));

    if (this.hasDataFile && ctx.snapshots.snapshots.length) {
      this.finding({
        kind: 'snapshot-table',
        severity: 'corruption',
        message: `image with an external data file has ${ctx.snapshots.snapshots.length} snapshots, which is not allowed`,
        qemuLine: `ERROR ${ctx.snapshots.snapshots.length} snapshots in image with data file`,
      });
    }
    const refs = await this.snapshotRefs();
    for (const sn of ctx.snapshots.snapshots) {
      if (!Number.isFinite(sn.l1Offset) || sn.l1Offset % this.cs !== 0) {
        this.finding({
          kind: 'snapshot-table',
          severity: 'corruption',
          hostOffset: Number.isFinite(sn.l1Offset) ? sn.l1Offset : undefined,
          snapshot: sn.id,
          message: `snapshot ${sn.id} (${sn.name}) has an L1 table offset 0x${hex(sn.l1Offset)} that is not cluster-aligned`,
          qemuLine: `ERROR snapshot ${sn.id} (${sn.name}) l1_offset=0x${hex(sn.l1Offset)}: L1 table is not cluster aligned; snapshot table entry corrupted`,
        });
        this.l1Walked++;
        continue;
      }
      if (sn.l1Size > MAX_L1_ENTRIES) {
        this.finding({
          kind: 'snapshot-table',
          severity: 'corruption',
          snapshot: sn.id,
          message: `snapshot ${sn.id} (${sn.name}) claims an L1 table of ${sn.l1Size} entries, more than QEMU allows`,
          qemuLine: `ERROR snapshot ${sn.id} (${sn.name}) l1_size=0x${hex(sn.l1Size)}: L1 table is too large; snapshot table entry corrupted`,
        });
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
      await this.checkL1(sn.l1Offset, sn.l1Size, false, sn.id, l1.times, refs.l2);
    }
    this.inc(ctx.snapshots.offset, ctx.snapshots.size, Owner.SnapshotTable);
    this.inc(h.refcountTableOffset, ctx.reftable.length, Owner.RefcountTable);
    const crypto = h.extensions.crypto;
    if (crypto && crypto.length) this.inc(crypto.offset, crypto.length, Owner.CryptoHeader);
    if (ctx.bitmaps) await this.checkBitmaps(ctx.bitmaps);
    this.checkRefblocks();
    await this.resolveDeferredCopied();
    return { mem: this.mem, rebuild: this.rebuild, overlaps: this.overlaps, zeroFixes: this.zeroFixes };
  }

  /**
   * For the snapshots' walk context: how many snapshots use each distinct L1 table, and how often each L2 table
   * is referenced through all of them (so that each can be walked once, at its first reference).
   */
  private async snapshotRefs(): Promise<{ l1: Map<string, { offset: number; size: number; times: number; walked: boolean }>; l2: L2Refs }> {
    const l1 = new Map<string, { offset: number; size: number; times: number; walked: boolean }>();
    for (const sn of this.ctx.snapshots.snapshots) {
      if (!Number.isFinite(sn.l1Offset) || sn.l1Offset % this.cs !== 0 || sn.l1Size > MAX_L1_ENTRIES) continue; // reported, not walked
      const key = `${sn.l1Offset}:${sn.l1Size}`;
      const e = l1.get(key);
      if (e) e.times++;
      else l1.set(key, { offset: sn.l1Offset, size: sn.l1Size, times: 1, walked: false });
    }
    const l2: L2Refs = new Map();
    for (const e of l1.values()) {
      throwIfAborted(this.ctx.signal, this.ctx.file);
      this.countL2Refs(await this.readL1(e.offset, e.size), e.times, l2);
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
  private async checkL1(l1Offset: number, l1Size: number, active: boolean, snapshot: string | undefined, times: number, l2Refs: L2Refs): Promise<void> {
    const { ctx } = this;
    if (!l1Size) {
      this.l1Walked++;
      return;
    }
    this.inc(l1Offset, l1Size * 8, active ? Owner.L1 : Owner.SnapshotL1, undefined, times);
    const l1 = active ? ctx.l1 : await this.readL1(l1Offset, l1Size);
    const shared = times > 1 ? ` (counted ${times} times: ${times} snapshots share this L1 table)` : '';
    const regions: { offset: number; length: number; tag: { l1Index: number; times: number } }[] = [];
    for (let i = 0; i < l1.length / 8; i++) {
      const hi = u32(l1, i * 8);
      const lo = u32(l1, i * 8 + 4);
      if (hi === 0 && lo === 0) continue;
      const l2Offset = entryOffset(hi, lo);
      if (hi & 0x7f000000 || lo & 0x1ff) {
        this.finding({
          kind: 'reserved-bits',
          severity: 'corruption',
          hostOffset: l1Offset + i * 8,
          snapshot,
          message: `${active ? '' : `snapshot ${snapshot} `}L1 entry ${i} has reserved bits set (0x${hex64(hi, lo)})${shared}`,
          qemuLine: `ERROR found L1 entry with reserved bits set: ${hex64(hi, lo)}`,
        }, times);
      }
      this.inc(l2Offset, this.cs, active ? Owner.L2 : Owner.SnapshotL2, undefined, times);
      if (l2Offset % this.cs !== 0) {
        this.finding({
          kind: 'unaligned',
          severity: 'corruption',
          hostOffset: l2Offset,
          snapshot,
          virtualOffsets: active ? [i * ctx.info.l1EntrySpan] : undefined,
          message: `${active ? '' : `snapshot ${snapshot} `}L1 entry ${i} points to an L2 table at 0x${hex(l2Offset)}, which is not cluster-aligned${shared}`,
          qemuLine: `ERROR l2_offset=${hex(l2Offset)}: Table is not cluster aligned; L1 entry corrupted`,
        }, times);
      }
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
    await forEachRegion(ctx.io, regions, (table, r) => this.checkL2(table, r.offset, r.tag.l1Index, active, snapshot, r.tag.times), {
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
  private copiedMismatch(refcount: number, copied: boolean, hi: number, lo: number, guest: number, times = 1): void {
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

  private async resolveDeferredCopied(): Promise<void> {
    for (const d of this.deferredCopied) {
      const refcount = await this.ctx.onDisk.at(d.cluster);
      if (refcount >= 0) this.copiedMismatch(refcount, d.copied, d.hi, d.lo, d.guest, d.times);
    }
    this.deferredCopied.length = 0;
  }

  /**
   * check_refcounts_l2 for an L2 table referenced `times` times in this walk context: every entry, with what it
   * counts counted `times` times. (Each walk QEMU does of the table is the same: the findings, references and
   * fragmentation figures do not depend on which reference led there.)
   */
  private checkL2(table: Uint8Array, l2Offset: number, l1Index: number, active: boolean, snapshot: string | undefined, times: number): void {
    this.l2TablesWalked++;
    if (this.fixesByCluster.size) this.applyFixes(table, l2Offset);
    const { ctx, cs, ext } = this;
    const info = ctx.info;
    const entryBytes = info.l2EntryBytes;
    const n = info.l2Entries;
    const frag = active;
    const copiedInline = active && this.opts.copiedInline && l2Offset !== 0; // check_oflag_copied skips L1 entries without an offset
    const onDisk = ctx.onDisk;
    const tracked = onDisk.length;
    const guestBase = l1Index * info.l1EntrySpan;
    const dataOwner = Owner.Data;
    let nextContiguous = 0;
    const dv = new DataView(table.buffer, table.byteOffset, table.byteLength);
    const mem = this.mem;
    const counts = mem.counts;
    const owners = mem.owners;
    const diskCounts = onDisk.counts;
    const fast = !ext && !this.hasDataFile;
    const fits = times <= mem.max; // a first reference counted `times` times cannot overflow
    const alignMask = (cs - 1) | 1; // low offset bits and the zero flag
    const bitsShift = this.bits;
    const clustersPer4G = TWO_32 / cs;
    // Clusters wholly inside the file and tracked (a partial last cluster takes the general path).
    const lastWholeCluster = Math.min(Math.floor(ctx.fileSize / cs), mem.length, diskCounts.length);
    const shared = times > 1 ? ` (counted ${times} times: the table is referenced ${times} times)` : '';
    const place = (i: number): string => (active ? `guest offset 0x${hex(guestBase + i * cs)}` : `snapshot ${snapshot}, L1 entry ${l1Index}, L2 entry ${i}`);
    const where = (i: number): string => place(i) + shared;
    for (let i = 0, o = 0; i < n; i++, o += entryBytes) {
      const hi = dv.getUint32(o);
      const lo = dv.getUint32(o + 4);
      const bmZero = ext ? dv.getUint32(o + 8) : 0;
      const bmAlloc = ext ? dv.getUint32(o + 12) : 0;
      if (hi === 0 && lo === 0 && bmAlloc === 0) continue; // unallocated, nothing to check: the common case
      // Fast path for a plain data cluster: standard entry, no reserved bits, aligned, inside the file, first
      // reference. Everything else takes the general path below.
      if (fast && (hi & 0x7f000000) === 0 && (lo & alignMask) === 0 && (hi | lo) !== 0) {
        const k = (hi & 0x00ffffff) * clustersPer4G + (lo >>> bitsShift);
        if (k < lastWholeCluster && counts[k] === 0 && fits) {
          counts[k] = times;
          owners[k] = dataOwner;
          if (frag) {
            ctx.res.allocatedClusters += times;
            const offset = k * cs;
            if (nextContiguous && offset !== nextContiguous) ctx.res.fragmentedClusters += times;
            nextContiguous = offset + cs;
          }
          if (copiedInline && ((diskCounts[k] === 1) !== hi >= 0x80000000)) {
            const rc = onDisk.get(k);
            if (rc >= 0) this.copiedMismatch(rc, hi >= 0x80000000, hi, lo, guestBase + i * cs, times);
          }
          continue;
        }
      }
      const guest = guestBase + i * cs;
      if (hi & 0x40000000) {
        // Compressed cluster
        const chi = hi & 0x7fffffff;
        const c = decodeCompressed(chi, lo, this.bits);
        if (hi & 0x80000000) {
          this.finding({
            kind: 'compressed-copied',
            severity: 'corruption',
            hostOffset: c.offset,
            virtualOffsets: active ? [guest] : undefined,
            snapshot,
            message: `compressed L2 entry for ${where(i)} has the COPIED flag set, which compressed clusters must never have`,
            qemuLine: `ERROR: coffset=0x${c.hex}: copied flag must never be set for compressed clusters`,
          }, times);
        }
        if (this.hasDataFile) {
          this.finding({
            kind: 'compressed-invalid',
            severity: 'corruption',
            virtualOffsets: active ? [guest] : undefined,
            snapshot,
            message: `L2 entry for ${where(i)} is compressed, which images with an external data file cannot have`,
            qemuLine: `ERROR compressed cluster ${i} with data file, entry=0x${hex64(hi, lo)}`,
          }, times);
          continue;
        }
        if (bmZero || bmAlloc) {
          this.finding({
            kind: 'compressed-invalid',
            severity: 'corruption',
            virtualOffsets: active ? [guest] : undefined,
            snapshot,
            message: `compressed L2 entry for ${where(i)} has a non-zero subcluster bitmap`,
            qemuLine: `ERROR compressed cluster ${i} with non-zero subcluster allocation bitmap, entry=0x${hex64(hi, lo)}`,
          }, times);
          continue;
        }
        this.inc(c.offset, c.size, Owner.Compressed, c.hex, times);
        if (frag) {
          ctx.res.allocatedClusters += times;
          ctx.res.compressedClusters += times;
          ctx.res.fragmentedClusters += times;
        }
        continue;
      }
      if (hi & 0x3f000000 || lo & 0x1fe) {
        this.finding({
          kind: 'reserved-bits',
          severity: 'corruption',
          hostOffset: l2Offset + i * entryBytes,
          virtualOffsets: active ? [guest] : undefined,
          snapshot,
          message: `L2 entry for ${where(i)} has reserved bits set (0x${hex64(hi, lo)})`,
          qemuLine: `ERROR found l2 entry with reserved bits set: ${hex64(hi, lo)}`,
        }, times);
      }
      const offset = entryOffset(hi, lo);
      const copied = (hi & 0x80000000) !== 0;
      const zeroFlag = !ext && (lo & 1) !== 0;
      const allocated = offset !== 0 || (this.hasDataFile && copied && !zeroFlag);
      if (!allocated) {
        // ZERO_PLAIN or UNALLOCATED
        if (bmAlloc) {
          this.finding({
            kind: 'subcluster-bitmap',
            severity: 'corruption',
            virtualOffsets: active ? [guest] : undefined,
            snapshot,
            message: `unallocated L2 entry for ${where(i)} marks subclusters as allocated (bitmap 0x${hex(bmAlloc)})`,
            qemuLine: 'ERROR: Unallocated cluster has non-zero subcluster allocation map',
          }, times);
        }
        continue;
      }
      // NORMAL or ZERO_ALLOC
      if (bmZero & bmAlloc) {
        this.finding({
          kind: 'subcluster-bitmap',
          severity: 'corruption',
          hostOffset: offset,
          virtualOffsets: active ? [guest] : undefined,
          snapshot,
          message: `L2 entry for ${where(i)} marks subclusters both allocated and zero (mask 0x${hex(bmZero & bmAlloc)})`,
          qemuLine: `ERROR offset=${hex(offset)}: Allocated cluster has corrupted subcluster allocation bitmap`,
        }, times);
      }
      if (offset % cs !== 0) {
        const containsData = ext ? bmAlloc !== 0 : !zeroFlag;
        const entryAt = l2Offset + i * entryBytes;
        // -r all turns an unaligned preallocated zero cluster into a plain zero one (fix_l2_entry_by_zero),
        // unless the entry's table overlaps other metadata, where QEMU refuses to write and stops.
        const fixIt = !containsData && this.opts.fixAll;
        if (fixIt && overlapsMetadata(this.ctx, entryAt, active)) throw new CheckAbort('ERROR: Overlap check failed');
        this.finding({
          kind: 'unaligned',
          severity: 'corruption',
          hostOffset: offset,
          virtualOffsets: active ? [guest] : undefined,
          snapshot,
          message: `L2 entry for ${fixIt ? place(i) : where(i)} points to host offset 0x${hex(offset)}, which is not cluster-aligned`,
          qemuLine: containsData
            ? `ERROR offset=${hex(offset)}: Data cluster is not properly aligned; L2 entry corrupted.`
            : `${fixIt ? 'Repairing' : 'ERROR'} offset=${hex(offset)}: Preallocated cluster is not properly aligned; L2 entry corrupted.`,
        }, fixIt ? 1 : times); // once fixed, the further references find a plain zero cluster
        if (fixIt) {
          ctx.res.corruptions--;
          ctx.res.corruptionsFixed++;
          const fixed = table.slice(i * entryBytes, (i + 1) * entryBytes);
          if (ext) {
            const fdv = new DataView(fixed.buffer);
            fdv.setUint32(0, 0);
            fdv.setUint32(4, 0);
            fdv.setUint32(8, (bmZero | bmAlloc) >>> 0);
            fdv.setUint32(12, 0);
          } else fixed.set([0, 0, 0, 0, 0, 0, 0, 1]);
          this.zeroFixes.push({ at: entryAt, bytes: fixed });
          const c = Math.floor(entryAt / cs);
          const inCluster = this.fixesByCluster.get(c) ?? [];
          inCluster.push({ at: entryAt, bytes: fixed });
          this.fixesByCluster.set(c, inCluster);
          continue; // no longer references anything
        }
      }
      if (frag) {
        ctx.res.allocatedClusters += times;
        if (nextContiguous && offset !== nextContiguous) ctx.res.fragmentedClusters += times;
        nextContiguous = offset + cs;
      }
      if (!this.hasDataFile) {
        // Inline fast path of inc() for the common aligned, in-file case.
        const k = offset / cs;
        const mem = this.mem;
        if (offset % cs === 0 && offset + cs <= ctx.fileSize && k < mem.length && mem.counts[k] === 0 && fits) {
          mem.counts[k] = times;
          mem.owners[k] = dataOwner;
        } else this.inc(offset, cs, dataOwner, undefined, times);
      }
      if (copiedInline) {
        const cluster = Math.floor(offset / cs);
        if (this.hasDataFile) this.copiedMismatch(1, copied, hi, lo, guest, times);
        else if (cluster < tracked) {
          const rc = onDisk.get(cluster);
          if (rc >= 0 && (rc === 1) !== copied) this.copiedMismatch(rc, copied, hi, lo, guest, times);
        } else this.deferredCopied.push({ cluster, copied, hi, lo, guest, times });
      }
    }
  }

  /** Puts the entries fixed so far into a table read since (an L2 table shared by the active L1 and snapshots). */
  private applyFixes(table: Uint8Array, l2Offset: number): void {
    const end = l2Offset + table.length;
    for (let c = Math.floor(l2Offset / this.cs); c * this.cs < end; c++) {
      for (const f of this.fixesByCluster.get(c) ?? []) {
        const from = Math.max(f.at, l2Offset);
        const to = Math.min(f.at + f.bytes.length, end);
        if (from < to) table.set(f.bytes.subarray(from - f.at, to - f.at), from - l2Offset);
      }
    }
  }

  private async checkBitmaps(b: { dirOffset: number; dirSize: number; count: number }): Promise<void> {
    const { ctx, cs } = this;
    this.inc(b.dirOffset, b.dirSize, Owner.BitmapDirectory);
    let list: CheckBitmap[];
    try {
      list = await readBitmapsForCheck(ctx.io, b.dirOffset, b.dirSize, b.count, cs);
    } catch (err) {
      ctx.res.corruptions++;
      throw err;
    }
    for (const bm of list) {
      this.inc(bm.tableOffset, bm.tableSize * 8, Owner.BitmapTable);
      if (!Number.isFinite(bm.tableOffset)) continue;
      // Entries past the end of the file read as zeros and count nothing: read only the part inside the file,
      // so a hostile table_size (up to 2^32 entries, 32 GiB) costs no more memory than the file has.
      const inFile = Math.max(0, Math.min(bm.tableSize * 8, ctx.fileSize - bm.tableOffset));
      const table = await readZeroFilled(ctx.io, bm.tableOffset, inFile - (inFile % 8));
      for (let i = 0; i < table.length / 8; i++) {
        const hi = u32(table, i * 8);
        const lo = u32(table, i * 8 + 4);
        const offset = entryOffset(hi, lo);
        const bad = hi & 0xff000000 || lo & 0x1fe || offset % cs !== 0 || (offset !== 0 && lo & 1);
        // QEMU loads bitmaps when it opens the image and cannot open it with a bad table entry.
        if (bad) throw new CheckAbort(`ERROR could not read the table of bitmap '${bm.name}': entry ${i} is invalid (0x${hex64(hi, lo)})`);
        if (offset) this.inc(offset, cs, Owner.BitmapData);
      }
    }
  }

  /** check_refblocks: every refcount block must be inside the file and referenced exactly once. */
  private checkRefblocks(): void {
    const { ctx, cs } = this;
    const entries = ctx.reftable.length / 8;
    for (let i = 0; i < entries; i++) {
      const offset = refblockOffsetAt(ctx.reftable, i);
      if (reftableEntryReserved(ctx.reftable, i)) {
        this.finding({
          kind: 'reserved-bits',
          severity: 'corruption',
          hostOffset: ctx.header.refcountTableOffset + i * 8,
          message: `refcount table entry ${i} has reserved bits set`,
          qemuLine: `ERROR refcount table entry ${i} has reserved bits set`,
        });
        this.rebuild = true;
        continue;
      }
      if (offset % cs !== 0) {
        this.finding({
          kind: 'unaligned',
          severity: 'corruption',
          hostOffset: offset,
          message: `refcount table entry ${i} points to a refcount block at 0x${hex(offset)}, which is not cluster-aligned`,
          qemuLine: `ERROR refcount block ${i} is not cluster aligned; refcount table entry corrupted`,
        });
        this.rebuild = true;
        continue;
      }
      const cluster = offset / cs;
      if (cluster >= ctx.nbClusters) {
        this.finding({
          kind: 'refblock-outside-image',
          severity: 'corruption',
          hostOffset: Number.isFinite(offset) ? offset : undefined,
          message: `refcount block ${i} at 0x${hex(offset)} lies past the end of the file`,
          qemuLine: `${this.opts.fixAll ? 'Repairing' : 'ERROR'} refcount block ${i} is outside image`,
        });
        if (this.opts.fixAll) this.rebuild = true; // QEMU grows the file; rebuilding elsewhere is as good
        continue;
      }
      if (offset !== 0) {
        this.inc(offset, cs, Owner.RefcountBlock);
        const rc = this.mem.get(cluster);
        if (rc !== 1) {
          this.finding({
            kind: 'refblock-refcount',
            severity: 'corruption',
            hostOffset: offset,
            message: `refcount block ${i} at 0x${hex(offset)} is referenced ${rc} times; it must be used only as a refcount block`,
            qemuLine: `ERROR refcount block ${i} refcount=${rc}`,
          });
          this.rebuild = true;
        }
      }
    }
  }
}

export { emptySummary };
export { u64Loose };
