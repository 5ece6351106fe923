/**
 * The refcounts recorded on disk, loaded once for every cluster of the file with coalesced refblock reads,
 * plus point look-ups for clusters past the end of the file.
 */
import { u32 } from '../format/bytes';
import { reftableOffset } from '../format/entries';
import type { Qcow2IoOps } from '../io/ops';
import type { Qcow2Info } from '../format/info';
import { getRefcount } from '../format/refcount-codec';
import { makeCountArray, type CountArray } from './refcount-rebuild';
import { forEachRegion, readZeroFilled, type WalkOptions } from './walk-l1l2';

/** Refcount-table entry → refblock offset (bits 9..63), or Infinity when past 2^53. */
export function refblockOffsetAt(reftable: Uint8Array, index: number): number {
  return reftableOffset(u32(reftable, index * 8), u32(reftable, index * 8 + 4)) ?? Infinity;
}

export function reftableEntryReserved(reftable: Uint8Array, index: number): boolean {
  return (u32(reftable, index * 8 + 4) & 0x1ff) !== 0;
}

/** The count arrays hold at most 2^32 - 1; a 64-bit refcount above that is kept as text for check's lines. */
const COUNT_CAP = 0xffffffff;
/** Bounds the exact texts kept (an image controls how many refcounts are huge); past it the capped value shows. */
const MAX_EXACT_TEXTS = 4096;

/** A 64-bit big-endian refcount as exact decimal text (BigInt only for this rare message). */
function refcount64Text(block: Uint8Array, index: number): string {
  const view = new DataView(block.buffer, block.byteOffset + index * 8, 8);
  return view.getBigUint64(0).toString();
}

/**
 * Decodes `n` refcounts of a refblock into `out` starting at `outAt`; `exact` receives the decimal text of
 * 64-bit refcounts above the cap, keyed by their index in `out`.
 */
export function decodeRefblock(block: Uint8Array, bits: number, out: CountArray, outAt: number, n: number, exact?: Map<number, string>): void {
  if (bits === 16) {
    for (let i = 0, o = 0; i < n; i++, o += 2) out[outAt + i] = (block[o] << 8) | block[o + 1];
  } else if (bits === 8) {
    out.set(block.subarray(0, n), outAt);
  } else {
    for (let i = 0; i < n; i++) {
      const v = getRefcount(block, i, bits);
      out[outAt + i] = Math.min(v, COUNT_CAP);
      if (v > COUNT_CAP && bits === 64 && exact && exact.size < MAX_EXACT_TEXTS) exact.set(outAt + i, refcount64Text(block, i));
    }
  }
}

export class OnDiskRefcounts {
  /** Reftable indices whose refblock offset is not cluster-aligned: their refcounts cannot be read. */
  readonly badRefblocks = new Set<number>();
  /** Exact decimal text of 64-bit refcounts above 2^32 - 1, as qemu-img prints them (bounded, see decodeRefblock). */
  private readonly exact = new Map<number, string>();

  private constructor(
    private readonly io: Qcow2IoOps,
    private readonly info: Qcow2Info,
    public reftable: Uint8Array,
    public counts: CountArray,
  ) {}

  get length(): number {
    return this.counts.length;
  }

  static async load(io: Qcow2IoOps, info: Qcow2Info, reftable: Uint8Array, nbClusters: number, opts: WalkOptions = {}): Promise<OnDiskRefcounts> {
    const me = new OnDiskRefcounts(io, info, reftable, makeCountArray(info.refcountBits, nbClusters));
    const perBlock = info.refblockEntries;
    const regions: { offset: number; length: number; tag: number }[] = [];
    const entries = reftable.length / 8;
    for (let i = 0; i < entries && i * perBlock < nbClusters; i++) {
      const off = refblockOffsetAt(reftable, i);
      if (off === 0 || off === Infinity) continue; // missing, or past any file end: zeros
      if (off % info.clusterSize !== 0) {
        me.badRefblocks.add(i);
        continue;
      }
      regions.push({ offset: off, length: info.clusterSize, tag: i });
    }
    await forEachRegion(
      io,
      regions,
      (block, r) => {
        const first = r.tag * perBlock;
        decodeRefblock(block, info.refcountBits, me.counts, first, Math.min(perBlock, nbClusters - first), me.exact);
      },
      opts,
    );
    return me;
  }

  /** On-disk refcount of a tracked cluster, or -1 when its refblock cannot be read. */
  get(cluster: number): number {
    if (this.badRefblocks.size && this.badRefblocks.has(Math.floor(cluster / this.info.refblockEntries))) return -1;
    return this.counts[cluster];
  }

  /** A tracked cluster's on-disk refcount `value` (as compared) in qemu-img's text: exact for huge 64-bit ones. */
  text(cluster: number, value: number): string {
    return (value === COUNT_CAP && this.exact.get(cluster)) || String(value);
  }

  /** Forgets the exact text once a repair has rewritten the cluster's refcount. */
  rewritten(cluster: number): void {
    this.exact.delete(cluster);
  }

  /** On-disk refcount of any cluster (reads the file for clusters past the tracked range); -1 if unreadable. */
  async at(cluster: number): Promise<number> {
    if (cluster < this.counts.length) return this.get(cluster);
    const index = Math.floor(cluster / this.info.refblockEntries);
    if (index >= this.reftable.length / 8) return 0;
    const off = refblockOffsetAt(this.reftable, index);
    if (off === 0 || off === Infinity) return 0;
    if (off % this.info.clusterSize !== 0) return -1;
    const block = await readZeroFilled(this.io, off, this.info.clusterSize);
    return Math.min(getRefcount(block, cluster % this.info.refblockEntries, this.info.refcountBits), COUNT_CAP);
  }
}
