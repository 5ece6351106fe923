/**
 * The write path: writeAt splits a guest range into clusters, decides for each whether it is written in
 * place or into a newly allocated cluster (copy-on-write from backing file, compressed cluster, zero cluster
 * or a cluster shared with a snapshot), writes the data first and updates cached L2 entries afterwards.
 * Table changes reach the disk through MetaWriteback.flush in the safe order. Zero writes (zero-clusters.ts),
 * compressed clusters (compressed-clusters.ts) and the bytes of a partly written cluster (cluster-bytes.ts) have
 * their own modules.
 */
import { setU32, u32 } from '../format/bytes';
import { ClusterAllocator } from './alloc';
import { entryWords, isCopied, l2EntryError, standardWords, subclusterMask } from '../format/entries';
import { badImage } from '../errors';
import { MetaWriteback } from './meta-writeback';
import { readFully } from '../io/ops';
import { MetadataMap } from './metadata-map';
import type { MetaSlice } from '../cache/metadata-cache';
import { Refcounts } from './refcounts';
import type { AsyncMutex } from './mutex';
import type { WritableImage } from './writable-image';
import { planInPlace, writeInPlaceRuns } from './in-place';
import { planCluster, span, type ClusterPlan } from './plan';
import { encryptedCopy } from '../crypto/image-crypto';
import { BitmapTracking } from './bitmap-tracking';
import { clusterBytes } from './cluster-bytes';
import { CompressedClusters } from './compressed-clusters';
import { ALL_SUBCLUSTERS, MAX_CHUNK_BYTES, type WriterSteps } from './writer-steps';
import { writeZeroes } from './zero-clusters';

export class Qcow2Writer implements WriterSteps {
  readonly wb: MetaWriteback;
  readonly meta: MetadataMap;
  readonly rc: Refcounts;
  readonly alloc: ClusterAllocator;
  /** Enabled persistent dirty bitmaps: marked in use before the first guest write, and the writes' bits. */
  readonly bitmaps: BitmapTracking;
  private readonly compressed: CompressedClusters;
  private readonly cs: number;
  private readonly sub: number;

  constructor(
    private readonly dev: WritableImage,
    /** The device's one lock (write/index.ts); the writer takes it for every write that may change metadata. */
    private readonly lock: AsyncMutex,
  ) {
    this.cs = dev.info.clusterSize;
    this.sub = dev.info.subclusterSize;
    this.wb = new MetaWriteback(dev);
    this.meta = new MetadataMap(dev);
    this.rc = new Refcounts(dev, this.wb, this.meta);
    this.alloc = new ClusterAllocator(this.rc, dev.fileSize, dev.path);
    this.rc.ends = this.alloc;
    this.rc.onFreed = (c) => this.alloc.noteFreed(c);
    this.bitmaps = new BitmapTracking(dev);
    this.compressed = new CompressedClusters(dev, this);
  }

  /** Fast in-place overwrites in flight, with their guest ranges. */
  private readonly inFlight = new Map<Promise<void>, [number, number]>();

  /**
   * Entry point for guest writes. Overlapping writes land in issue order: an overwrite of clusters this image
   * owns (mapping cached) goes straight to disk without the lock, unless anyone holds or awaits the lock or an
   * overlapping in-flight write is ahead of it; everything else takes the lock after the fast writes issued before it.
   */
  submit(buf: Uint8Array, offset: number): Promise<void> {
    const end = offset + buf.length;
    const overlaps = [...this.inFlight.values()].some(([s, e]) => s < end && offset < e);
    if (!this.lock.busy && !overlaps && !this.bitmaps.needsBegin) {
      const hosts = planInPlace(this.dev, buf, offset);
      if (hosts) {
        this.bitmaps.mark(offset, buf.length);
        const p = writeInPlaceRuns(this.dev, this.meta, this.wb, hosts, buf, offset);
        this.inFlight.set(p, [offset, end]);
        return p.finally(() => this.inFlight.delete(p));
      }
    }
    return this.lock.run(async () => {
      await this.settleInFlight();
      await this.markBitmaps(offset, buf.length);
      await this.writeAt(buf, offset);
    });
  }

  /**
   * Before a guest write lands: the enabled bitmaps are marked in use on disk (the first time), then the write's
   * granules set in them. Called with the lock held and the fast writes settled.
   */
  private async markBitmaps(offset: number, length: number): Promise<void> {
    if (this.bitmaps.needsBegin) await this.bitmaps.begin(this);
    this.bitmaps.mark(offset, length);
  }

  /**
   * Waits for the fast writes in flight (called with the lock held: while it is held or awaited no new fast
   * write starts, so these are all issued before the caller).
   */
  async settleInFlight(): Promise<void> {
    if (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight.keys()]);
  }

  async writeAt(buf: Uint8Array, offset: number): Promise<void> {
    let pos = 0;
    while (pos < buf.length) {
      pos += await this.writeChunk(buf.subarray(pos), offset + pos);
      if (this.wb.overCacheLimit()) await this.flush();
    }
  }

  /** Makes [offset, offset + length) read as zeros (qemu-io write -z), under the lock (zero-clusters.ts). */
  submitZeroes(offset: number, length: number): Promise<void> {
    return this.lock.run(async () => {
      await this.settleInFlight();
      await this.markBitmaps(offset, length);
      await writeZeroes(this.dev, this, offset, length);
    });
  }

  /** Stores one compressed cluster under the lock (compressed-clusters.ts). */
  submitCompressed(guest: number, bytes: Uint8Array): Promise<void> {
    return this.lock.run(async () => {
      await this.settleInFlight();
      await this.markBitmaps(guest, Math.min(this.cs, this.dev.info.virtualSize - guest));
      await this.compressed.write(guest, bytes);
    });
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
    const entryError = (idx: number) => (what: string) => l2EntryError(this.dev.path, info, l1Index, idx, what);

    let batch: ClusterPlan[] = [];
    for (let g = offset; g < end;) {
      const guest = g - (g % this.cs);
      const idx = (guest - tableStart) / this.cs;
      const plan = planCluster(info, slice, (idx - sliceFirst) * info.l2EntryBytes, guest, g - guest, Math.min(end, guest + this.cs) - guest, entryError(idx));
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
  async ensureL2(l1Index: number): Promise<number> {
    const [hi] = entryWords(this.dev.l1, l1Index * 8);
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
    this.dev.tables.setL1Entry(l1Index, nhi, nlo);
    this.wb.markL1Entry(l1Index);
    return c * this.cs;
  }

  private async writeInPlace(plan: ClusterPlan, slice: MetaSlice, buf: Uint8Array, bufBase: number): Promise<void> {
    const [from, spanTo] = span(this.dev.info, plan);
    let to = spanTo;
    if (this.dev.info.hasDataFile) to = Math.min(to, this.dev.info.virtualSize - plan.guest);
    const src = buf.subarray(plan.guest + plan.a - bufBase, plan.guest + plan.b - bufBase);
    if (!this.dev.dataIo && plan.host >= this.dev.fileSize) {
      // A hostile or damaged L2 entry: writing there would grow the file to an arbitrary size (found by fuzzing).
      throw badImage(
        this.dev.path,
        `L2 entry for guest offset 0x${plan.guest.toString(16)} points to host offset 0x${plan.host.toString(16)}, beyond the end of the file; run check`,
      );
    }
    const bytes = await clusterBytes(this.dev, plan, from, to, src);
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
      const [from, to] = span(this.dev.info, plan);
      if (i === 0) start = first * this.cs + from;
      const src = buf.subarray(plan.guest + plan.a - bufBase, plan.guest + plan.b - bufBase);
      parts.push(await clusterBytes(this.dev, plan, from, to, src));
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
    // Encrypted zeros are not zero bytes: an encrypted image writes the whole cluster.
    if (plan.mode !== 'fresh' || !io.truncate || this.dev.dataIo || this.dev.crypto) return false;
    const [from, to] = span(this.dev.info, plan);
    for (let s = Math.floor(from / this.sub); s < Math.ceil(to / this.sub); s++) {
      if (plan.states[s] === 'unalloc' && this.dev.hasBacking) return false;
    }
    await this.writeData(host + plan.a, buf.subarray(plan.guest + plan.a - bufBase, plan.guest + plan.b - bufBase));
    // The file is extended to the cluster's end by the next flush (later appends usually do it first).
    this.wb.extendTo = Math.max(this.wb.extendTo, host + this.cs);
    this.dev.noteFileEnd(host + this.cs);
    return true;
  }

  /** Points the L2 entry at `host` with COPIED set and the written subclusters allocated; dirty only if it changed. */
  private setEntry(fetched: MetaSlice, plan: ClusterPlan, host: number): void {
    const slice = this.dev.cache.current(this.dev.cache.l2, fetched);
    const data = slice.data;
    const [hi, lo] = standardWords(host, true);
    const words = [hi, lo];
    if (this.dev.info.extendedL2) {
      const sa = Math.floor(plan.a / this.sub);
      const sb = Math.ceil(plan.b / this.sub);
      const mask = subclusterMask(sa, sb);
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

  async writeData(host: number, plain: Uint8Array): Promise<void> {
    const bytes = encryptedCopy(this.dev.crypto, plain, host);
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
  async allocClusters(n: number): Promise<number> {
    const first = await this.alloc.alloc(n);
    this.dev.forgetCompressed();
    this.dev.cache.forgetHostRange(first * this.cs, n * this.cs);
    return first;
  }

  private noteImageWrite(end: number): void {
    this.wb.imageDataUnsynced = true;
    this.dev.noteFileEnd(end);
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
