/**
 * The write path: writeAt splits a guest range into clusters, decides for each whether it is written in
 * place or into a newly allocated cluster (copy-on-write from backing file, compressed cluster, zero cluster
 * or a cluster shared with a snapshot), writes the data first and updates cached L2 entries afterwards.
 * Table changes reach the disk through MetaWriteback.flush in the safe order.
 */
import { setU32, u32 } from './bytes';
import { ClusterAllocator } from './alloc';
import { compressedRange, entryOffset, entryWords, isCompressed, isCopied, standardWords, ZERO_LO } from './entries';
import { badImage, Qcow2Error } from './errors';
import { MetaWriteback } from './flush';
import { readFully } from './io';
import { MetadataMap } from './overlap';
import type { MetaSlice, Qcow2Dev } from './qcow2-dev';
import { Refcounts } from './refcount';
import { AsyncMutex } from './mutex';
import { planInPlace, writeInPlaceRuns } from './write-inplace';

/** Largest guest range handled (and buffered) at once. */
const MAX_CHUNK_BYTES = 8 * 1024 * 1024;
const ALL_SUBCLUSTERS = 0xffffffff;

type SubState = 'data' | 'zero' | 'unalloc';

/** What to do with one guest cluster touched by a write. */
interface ClusterPlan {
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

export class Qcow2Writer {
  readonly wb: MetaWriteback;
  readonly meta: MetadataMap;
  readonly rc: Refcounts;
  readonly alloc: ClusterAllocator;
  readonly mutex = new AsyncMutex();
  private readonly cs: number;
  private readonly sub: number;

  constructor(private readonly dev: Qcow2Dev) {
    this.cs = dev.info.clusterSize;
    this.sub = dev.info.subclusterSize;
    this.wb = new MetaWriteback(dev);
    this.meta = new MetadataMap(dev);
    this.rc = new Refcounts(dev, this.wb, this.meta);
    this.alloc = new ClusterAllocator(this.rc, dev.fileSize);
    this.rc.ends = this.alloc;
    this.rc.onFreed = (c) => this.alloc.noteFreed(c);
  }

  /** Writes from the slow path still queued or running; fast overwrites wait while there are any. */
  private slowActive = 0;
  /** Fast in-place overwrites in flight, with their guest ranges. */
  private readonly inFlight = new Map<Promise<void>, [number, number]>();

  /**
   * Entry point for guest writes. Overlapping writes land in issue order: an overwrite of clusters this image
   * owns (mapping cached) goes straight to disk without the mutex, unless a queued write or an overlapping
   * in-flight one is ahead of it; everything else takes the mutex after the fast writes issued before it.
   */
  submit(buf: Uint8Array, offset: number): Promise<void> {
    const end = offset + buf.length;
    const overlaps = [...this.inFlight.values()].some(([s, e]) => s < end && offset < e);
    if (this.slowActive === 0 && !overlaps) {
      const hosts = planInPlace(this.dev, buf, offset);
      if (hosts) {
        const p = writeInPlaceRuns(this.dev, this.meta, this.wb, hosts, buf, offset);
        this.inFlight.set(p, [offset, end]);
        return p.finally(() => this.inFlight.delete(p));
      }
    }
    this.slowActive++;
    const before = [...this.inFlight.keys()];
    return this.mutex
      .run(async () => {
        await Promise.allSettled(before);
        await this.writeAt(buf, offset);
      })
      .finally(() => this.slowActive--);
  }

  async writeAt(buf: Uint8Array, offset: number): Promise<void> {
    let pos = 0;
    while (pos < buf.length) {
      pos += await this.writeChunk(buf.subarray(pos), offset + pos);
      if (this.wb.overCacheLimit()) await this.flush();
    }
  }

  async flush(): Promise<void> {
    await this.wb.flush(this.rc);
    this.dev.forgetCompressed();
  }

  /** Writes the part of buf that falls in one L2 slice (and at most MAX_CHUNK_BYTES); returns its length. */
  private async writeChunk(buf: Uint8Array, offset: number): Promise<number> {
    const info = this.dev.info;
    const l1Index = Math.floor(offset / info.l1EntrySpan);
    const tableStart = l1Index * info.l1EntrySpan;
    const l2Index = Math.floor((offset - tableStart) / this.cs);
    const sliceFirst = l2Index - (l2Index % info.l2SliceEntries);
    const sliceEnd = tableStart + (sliceFirst + info.l2SliceEntries) * this.cs;
    const end = Math.min(offset + buf.length, sliceEnd, offset + MAX_CHUNK_BYTES);
    const l2Offset = await this.ensureL2(l1Index);
    const slice = await this.dev.l2Slice(l2Offset, l2Index);

    let batch: ClusterPlan[] = [];
    for (let g = offset; g < end; ) {
      const guest = g - (g % this.cs);
      const idx = (guest - tableStart) / this.cs;
      const plan = this.planCluster(slice, (idx - sliceFirst) * info.l2EntryBytes, guest, g - guest, Math.min(end, guest + this.cs) - guest);
      if (plan.mode === 'inplace') {
        await this.writeNew(batch, slice, buf, offset);
        batch = [];
        await this.writeInPlace(plan, slice, buf, offset);
      } else {
        batch.push(plan);
      }
      g = guest + plan.b;
    }
    await this.writeNew(batch, slice, buf, offset);
    return end - offset;
  }

  /** Makes L1 entry `l1Index` point at an L2 table this image owns alone (allocating or copying one). */
  private async ensureL2(l1Index: number): Promise<number> {
    const l1 = this.dev.l1;
    const [hi] = entryWords(l1, l1Index * 8);
    const old = this.dev.l2TableOffset(l1Index);
    if (old !== 0 && isCopied(hi)) return old;
    const c = await this.allocClusters(1);
    const table = new Uint8Array(this.cs);
    if (old !== 0) {
      // Shared with a snapshot: this image gets its own copy; the data clusters' refcounts already count both.
      if ((await readFully(this.dev.io, table, old)) < this.cs) throw badImage(this.dev.path, `L2 table at 0x${old.toString(16)} is truncated`);
    }
    this.meta.check(c * this.cs, this.cs, 'a new L2 table');
    await this.dev.io.writeAt(table, c * this.cs);
    this.noteImageWrite(c * this.cs + this.cs);
    if (old !== 0) {
      this.meta.removeRange(old, this.cs);
      this.wb.pendingDecrements.push(old / this.cs);
    }
    this.meta.addRange(c * this.cs, this.cs, 'active L2 table');
    const [nhi, nlo] = standardWords(c * this.cs, true);
    setU32(l1, l1Index * 8, nhi);
    setU32(l1, l1Index * 8 + 4, nlo);
    this.wb.markL1Entry(l1Index);
    return c * this.cs;
  }

  private planCluster(slice: MetaSlice, at: number, guest: number, a: number, b: number): ClusterPlan {
    const info = this.dev.info;
    const data = slice.data;
    const [hi, lo] = entryWords(data, at);
    const n = info.subclustersPerCluster;
    const plan: ClusterPlan = { guest, a, b, at, mode: 'fresh', host: 0, states: [], allocBits: 0, zeroBits: 0, release: [] };
    if (info.extendedL2) {
      plan.zeroBits = u32(data, at + 8);
      plan.allocBits = u32(data, at + 12);
    }
    if (isCompressed(hi)) {
      if (info.hasDataFile) throw this.entryError(guest, 'is compressed, which an image with an external data file cannot have');
      const range = compressedRange(hi, lo, info.clusterBits);
      if (!range) throw this.entryError(guest, 'has a compressed data offset out of range');
      plan.mode = 'copy';
      plan.copyFrom = { compressed: range };
      plan.states = new Array<SubState>(n).fill('data');
      plan.allocBits = 0;
      plan.zeroBits = 0;
      const first = Math.floor(range.offset / 512) * 512;
      for (let c = Math.floor(first / this.cs); c * this.cs < range.offset + range.length; c++) plan.release.push(c);
      return plan;
    }
    const off = entryOffset(hi, lo);
    const copied = isCopied(hi);
    const allocated = off !== 0 || (info.hasDataFile && copied);
    if (allocated && off % this.cs !== 0) throw this.entryError(guest, `points to unaligned host offset 0x${off.toString(16)}`);
    for (let s = 0; s < n; s++) plan.states.push(this.subState(info.extendedL2, lo, plan, s, allocated));
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
      plan.release.push(off / this.cs);
    }
    return plan;
  }

  private subState(extended: boolean, lo: number, plan: ClusterPlan, s: number, allocated: boolean): SubState {
    if (!extended) {
      if (lo & ZERO_LO && this.dev.info.version >= 3) return 'zero';
      return allocated ? 'data' : 'unalloc';
    }
    const bit = (1 << s) >>> 0;
    if (plan.allocBits & plan.zeroBits & bit) throw this.entryError(plan.guest, `subcluster ${s} is marked both allocated and zero`);
    if (plan.allocBits & bit) {
      if (!allocated) throw this.entryError(plan.guest, `subcluster ${s} is allocated but the cluster has no host offset`);
      return 'data';
    }
    return plan.zeroBits & bit ? 'zero' : 'unalloc';
  }

  /** The byte range [from, to) of the cluster that will be written. */
  private span(plan: ClusterPlan): [number, number] {
    if (plan.mode === 'copy' || !this.dev.info.extendedL2 && plan.mode === 'fresh') return [0, this.cs];
    const sa = Math.floor(plan.a / this.sub);
    const sb = Math.ceil(plan.b / this.sub);
    if (plan.mode === 'fresh') return [sa * this.sub, sb * this.sub];
    const from = plan.a % this.sub !== 0 && plan.states[sa] !== 'data' ? sa * this.sub : plan.a;
    const to = plan.b % this.sub !== 0 && plan.states[sb - 1] !== 'data' ? sb * this.sub : plan.b;
    return [from, to];
  }

  /** Builds the bytes [from, to) of a cluster: old contents where needed, then the new data on top. */
  private async clusterBytes(plan: ClusterPlan, from: number, to: number, src: Uint8Array): Promise<Uint8Array> {
    if (from === plan.a && to === plan.b) return src;
    const out = new Uint8Array(to - from);
    const cf = plan.copyFrom;
    if (cf && 'compressed' in cf) {
      const cluster = await this.dev.readCompressedCluster(cf.compressed);
      out.set(cluster.subarray(from, to));
    } else if (cf) {
      await this.dev.readHost(out, cf.host + from);
    }
    // Pad the written subclusters' untouched parts from wherever they read from now.
    await this.pad(plan, out, from, from, plan.a);
    await this.pad(plan, out, from, plan.b, to);
    out.set(src, plan.a - from);
    return out;
  }

  private async pad(plan: ClusterPlan, out: Uint8Array, base: number, start: number, end: number): Promise<void> {
    for (let p = start; p < end; ) {
      const s = Math.floor(p / this.sub);
      const stop = Math.min(end, (s + 1) * this.sub);
      const dst = out.subarray(p - base, stop - base);
      if (plan.states[s] === 'unalloc') await this.dev.readBacking(dst, plan.guest + p);
      else if (plan.states[s] === 'zero') dst.fill(0);
      p = stop;
    }
  }

  private async writeInPlace(plan: ClusterPlan, slice: MetaSlice, buf: Uint8Array, bufBase: number): Promise<void> {
    let [from, to] = this.span(plan);
    if (this.dev.info.hasDataFile) to = Math.min(to, this.dev.virtualSize - plan.guest);
    const src = buf.subarray(plan.guest + plan.a - bufBase, plan.guest + plan.b - bufBase);
    if (!this.dev.dataIo && plan.host >= this.dev.fileSize) {
      // A hostile or damaged L2 entry: writing there would grow the file to an arbitrary size (found by fuzzing).
      throw badImage(this.dev.path, `L2 entry for guest offset 0x${plan.guest.toString(16)} points to host offset 0x${plan.host.toString(16)}, beyond the end of the file; run check`);
    }
    const bytes = await this.clusterBytes(plan, from, to, src);
    await this.writeData(plan.host + from, bytes);
    this.setEntry(slice, plan, plan.host);
  }

  /** Allocates contiguous clusters for the planned new clusters, writes them with one request, updates entries. */
  private async writeNew(plans: ClusterPlan[], slice: MetaSlice, buf: Uint8Array, bufBase: number): Promise<void> {
    if (plans.length === 0) return;
    const eof = this.dev.fileSize;
    const first = await this.allocClusters(plans.length);
    if (plans.length === 1 && first * this.cs >= eof && (await this.writeIntoHole(plans[0], first * this.cs, buf, bufBase))) {
      this.setEntry(slice, plans[0], first * this.cs);
      this.wb.pendingDecrements.push(...plans[0].release);
      return;
    }
    const parts: Uint8Array[] = [];
    let start = 0;
    for (let i = 0; i < plans.length; i++) {
      const plan = plans[i];
      const [from, to] = this.span(plan);
      if (i === 0) start = first * this.cs + from;
      const src = buf.subarray(plan.guest + plan.a - bufBase, plan.guest + plan.b - bufBase);
      parts.push(await this.clusterBytes(plan, from, to, src));
    }
    await this.writeData(start, parts.length === 1 ? parts[0] : concat(parts));
    plans.forEach((plan, i) => {
      this.setEntry(slice, plan, (first + i) * this.cs);
      this.wb.pendingDecrements.push(...plan.release);
    });
  }

  /**
   * A new cluster past the old end of the file reads as zeros already: when its padding would be zeros too,
   * write just the new bytes; the file is extended to the cluster's end before the next flush (QEMU zeroes
   * the cluster with fallocate for the same saving). Returns false when this shortcut does not apply.
   */
  private async writeIntoHole(plan: ClusterPlan, host: number, buf: Uint8Array, bufBase: number): Promise<boolean> {
    const io = this.dev.io;
    if (plan.mode !== 'fresh' || !io.truncate || this.dev.dataIo) return false;
    const [from, to] = this.span(plan);
    for (let s = Math.floor(from / this.sub); s < Math.ceil(to / this.sub); s++) {
      if (plan.states[s] === 'unalloc' && this.dev.backing) return false;
    }
    await this.writeData(host + plan.a, buf.subarray(plan.guest + plan.a - bufBase, plan.guest + plan.b - bufBase));
    // The file is extended to the cluster's end by the next flush (later appends usually do it first).
    this.wb.extendTo = Math.max(this.wb.extendTo, host + this.cs);
    if (this.dev.fileSize < host + this.cs) this.dev.fileSize = host + this.cs;
    return true;
  }

  /** Points the L2 entry at `host` with COPIED set and the written subclusters allocated; dirty only if it changed. */
  private setEntry(fetched: MetaSlice, plan: ClusterPlan, host: number): void {
    const slice = this.dev.currentSlice(this.dev.l2Cache, fetched);
    const data = slice.data;
    const [hi, lo] = standardWords(host, true);
    const words = [hi, lo];
    if (this.dev.info.extendedL2) {
      const sa = Math.floor(plan.a / this.sub);
      const sb = Math.ceil(plan.b / this.sub);
      const mask = sb - sa === 32 ? ALL_SUBCLUSTERS : ((((1 << (sb - sa)) >>> 0) - 1) << sa) >>> 0;
      const alloc = plan.copyFrom && 'compressed' in plan.copyFrom ? ALL_SUBCLUSTERS : (plan.allocBits | mask) >>> 0;
      words.push((plan.zeroBits & ~alloc) >>> 0, alloc);
    }
    let changed = false;
    words.forEach((w, i) => {
      if (u32(data, plan.at + i * 4) !== w) {
        setU32(data, plan.at + i * 4, w);
        changed = true;
      }
    });
    if (changed) this.wb.markL2(slice);
  }

  private async writeData(host: number, bytes: Uint8Array): Promise<void> {
    if (this.dev.dataIo) {
      await this.dev.dataIo.writeAt(bytes, host);
      this.wb.dataFileUnsynced = true;
      return;
    }
    this.meta.check(host, bytes.length);
    await this.dev.io.writeAt(bytes, host);
    this.noteImageWrite(host + bytes.length);
  }

  /** n contiguous new clusters; stale cached slices of reused clusters are dropped. */
  private async allocClusters(n: number): Promise<number> {
    const first = await this.alloc.alloc(n);
    this.dev.forgetHostRange(first * this.cs, n * this.cs);
    return first;
  }

  private noteImageWrite(end: number): void {
    this.wb.imageDataUnsynced = true;
    if (end > this.dev.fileSize) this.dev.fileSize = end;
  }

  private entryError(guest: number, what: string): Qcow2Error {
    return badImage(this.dev.path, `L2 entry for guest offset 0x${guest.toString(16)} ${what}`);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
