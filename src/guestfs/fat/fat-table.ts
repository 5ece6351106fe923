/**
 * The file allocation table: entry lookup through a bounded block cache, and cluster chains as runs of
 * contiguous clusters. Chains are untrusted: every link is range-checked, a free or bad cluster inside a chain is
 * an error, and loops are caught with Brent's cycle detection (constant memory) plus a hard bound of the
 * cluster count, so no chain walk can run forever or allocate more than the chain's own length.
 */
import type { ReadOnlyDevice } from '../types';
import { badFs, le16, le32, Lru, readDev } from '../reader-util';
import type { Bpb } from './bpb';

const BLOCK = 64 * 1024;
/** 256 blocks of 64 KiB: 16 MiB of FAT at most in memory, whatever the volume size. */
const CACHE_BLOCKS = 256;

/** A chain as runs: run i covers clusters starts[i] .. starts[i] + lengths[i] - 1. */
export interface Chain {
  starts: number[];
  lengths: number[];
  clusters: number;
}

export class FatTable {
  private readonly blocks = new Lru<number, Uint8Array>(CACHE_BLOCKS);
  private readonly eoc: number;
  private readonly bad: number;

  constructor(
    private readonly dev: ReadOnlyDevice,
    private readonly bpb: Bpb,
  ) {
    this.eoc = bpb.bits === 32 ? 0x0ffffff8 : bpb.bits === 16 ? 0xfff8 : 0xff8;
    this.bad = this.eoc - 1;
  }

  get lastCluster(): number {
    return this.bpb.clusterCount + 1;
  }

  /** The raw FAT entry of a cluster (0..clusterCount+1). */
  async entry(cluster: number): Promise<number> {
    const bits = this.bpb.bits;
    const byteOff = bits === 12 ? cluster + (cluster >> 1) : cluster * (bits / 8);
    const width = bits === 32 ? 4 : 2;
    const bytes = await this.bytesAt(byteOff, width);
    if (bits === 32) return le32(bytes, 0) & 0x0fffffff;
    const v = le16(bytes, 0);
    if (bits === 16) return v;
    return cluster & 1 ? v >> 4 : v & 0xfff;
  }

  isFree(value: number): boolean {
    return value === 0;
  }

  /** FAT[1]'s clean-shutdown bit (FAT16 bit 15, FAT32 bit 27); FAT12 has none. */
  async cleanShutdownBit(): Promise<boolean> {
    if (this.bpb.bits === 12) return true;
    const v = this.bpb.bits === 32 ? le32(await this.bytesAt(4, 4), 0) : le16(await this.bytesAt(2, 2), 0);
    return this.bpb.bits === 32 ? (v & 0x08000000) !== 0 : (v & 0x8000) !== 0;
  }

  /**
   * Follows a chain from `first`. Stops after `maxClusters` (a file's size in clusters, or a directory bound) or at
   * the end-of-chain mark. `what` names the owner in errors.
   */
  async chain(first: number, maxClusters: number, what: string): Promise<Chain> {
    const out: Chain = { starts: [], lengths: [], clusters: 0 };
    if (first === 0 || maxClusters <= 0) return out;
    const limit = Math.min(maxClusters, this.bpb.clusterCount);
    let cur = first;
    // Brent: the tortoise jumps to the hare at each power of two; meeting it again means a loop.
    let tortoise = -1;
    let power = 1;
    let lam = 0;
    while (true) {
      if (cur < 2 || cur > this.lastCluster) throw badFs(`${what}: cluster chain points at cluster ${cur}, outside 2..${this.lastCluster}`);
      const n = out.starts.length;
      if (n > 0 && out.starts[n - 1] + out.lengths[n - 1] === cur) out.lengths[n - 1]++;
      else {
        out.starts.push(cur);
        out.lengths.push(1);
      }
      out.clusters++;
      if (out.clusters >= limit) return out;
      const next = await this.entry(cur);
      if (next >= this.eoc) return out;
      if (next === this.bad) throw badFs(`${what}: cluster chain runs into a bad cluster after cluster ${cur}`);
      if (next === 0) throw badFs(`${what}: cluster chain runs into free cluster after cluster ${cur}`);
      if (next === tortoise) throw badFs(`${what}: cluster chain loops back to cluster ${next}`);
      if (++lam === power) {
        tortoise = next;
        power *= 2;
        lam = 0;
      }
      cur = next;
    }
  }

  private async bytesAt(byteOff: number, width: number): Promise<Uint8Array> {
    if (byteOff + width > this.bpb.fatBytes) throw badFs(`FAT entry at byte ${byteOff} lies past the FAT's ${this.bpb.fatBytes} bytes`);
    const block = Math.floor(byteOff / BLOCK);
    const within = byteOff - block * BLOCK;
    const data = await this.block(block);
    if (within + width <= data.length) return data.subarray(within, within + width);
    const next = await this.block(block + 1); // a FAT12 entry straddling two blocks
    const both = new Uint8Array(width);
    both.set(data.subarray(within));
    both.set(next.subarray(0, width - (data.length - within)), data.length - within);
    return both;
  }

  private async block(index: number): Promise<Uint8Array> {
    let data = this.blocks.get(index);
    if (!data) {
      const len = Math.min(BLOCK, this.bpb.fatBytes - index * BLOCK);
      data = await readDev(this.dev, this.bpb.activeFatOffset + index * BLOCK, len, 'FAT');
      this.blocks.set(index, data);
    }
    return data;
  }
}
