/**
 * Reading an attribute's bytes: resident values, non-resident runs (sparse runs and the part past the initialized
 * size read as zeros), and LZNT1-compressed attributes one compression unit at a time. Runs are checked against
 * the volume before any read.
 */
import type { ReadOnlyDevice } from '../types';
import { badFs, Lru } from '../reader-util';
import type { Attr, Run } from './record';
import { lznt1Decompress } from './lznt1';

const MAX_UNIT_BYTES = 4 * 1024 * 1024;

/** The run holding `vcn`, by binary search (runs are in VCN order). */
export function findRun(runs: Run[], vcn: number): Run | undefined {
  let lo = 0;
  let hi = runs.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const r = runs[mid];
    if (vcn < r.vcn) hi = mid - 1;
    else if (vcn >= r.vcn + r.length) lo = mid + 1;
    else return r;
  }
  return undefined;
}

export class AttrReader {
  /** Recently decompressed units, so sequential small reads of a compressed file decompress each unit once. */
  private readonly units = new Lru<string, Uint8Array>(8);

  constructor(
    private readonly dev: ReadOnlyDevice,
    private readonly clusterSize: number,
    private readonly volumeBytes: number,
  ) {}

  isCompressed(attr: Attr): boolean {
    return attr.nonResident && (attr.flags & 0x00ff) !== 0 && attr.compressionUnit > 0;
  }

  /** Up to `length` bytes of the attribute from `offset`, cut at its data size. */
  async read(attr: Attr, offset: number, length: number, what: string, key = ''): Promise<Uint8Array> {
    const end = Math.min(attr.dataSize, offset + length);
    if (end <= offset) return new Uint8Array(0);
    if (!attr.nonResident) return attr.value!.slice(offset, end);
    const out = new Uint8Array(end - offset);
    if (this.isCompressed(attr)) await this.readCompressed(attr, offset, out, what, key);
    else await this.readRuns(attr.runs, offset, out.subarray(0, Math.max(0, Math.min(end, attr.initSize) - offset)), what);
    return out;
  }

  /** Fills `out` from the runs at byte `offset`; holes stay zero. */
  async readRuns(runs: Run[], offset: number, out: Uint8Array, what: string): Promise<void> {
    const cs = this.clusterSize;
    let pos = 0;
    while (pos < out.length) {
      const at = offset + pos;
      const vcn = Math.floor(at / cs);
      const run = findRun(runs, vcn);
      if (!run) throw badFs(`${what}: no run maps byte ${at}`);
      const runEnd = (run.vcn + run.length) * cs;
      const n = Math.min(out.length - pos, runEnd - at);
      if (run.lcn >= 0) {
        const devOff = run.lcn * cs + (at - run.vcn * cs);
        if (devOff + n > this.volumeBytes) throw badFs(`${what}: run at cluster ${run.lcn} lies past the end of the volume`);
        await this.dev.readAt(out.subarray(pos, pos + n), devOff);
      }
      pos += n;
    }
  }

  private async readCompressed(attr: Attr, offset: number, out: Uint8Array, what: string, key: string): Promise<void> {
    const cs = this.clusterSize;
    const unitClusters = 2 ** attr.compressionUnit;
    const unitBytes = unitClusters * cs;
    // Windows writes 16-cluster units of 4 KiB clusters (64 KiB); refuse anything that would allocate megabytes per unit.
    if (unitBytes > MAX_UNIT_BYTES) throw badFs(`${what}: compression unit of ${unitBytes} bytes`);
    const end = offset + out.length;
    for (let u = Math.floor(offset / unitBytes); u * unitBytes < end; u++) {
      const unit = await this.unit(attr, u, unitClusters, what, key);
      const from = Math.max(offset, u * unitBytes);
      const to = Math.min(end, (u + 1) * unitBytes);
      out.set(unit.subarray(from - u * unitBytes, to - u * unitBytes), from - offset);
    }
  }

  /** One compression unit: all sparse = zeros, all allocated = stored raw, else LZNT1 in the allocated clusters. */
  private async unit(attr: Attr, u: number, unitClusters: number, what: string, key: string): Promise<Uint8Array> {
    const cacheKey = `${key}:${u}`;
    const hit = key ? this.units.get(cacheKey) : undefined;
    if (hit) return hit;
    const cs = this.clusterSize;
    const first = u * unitClusters;
    let allocated = 0;
    for (let v = first; v < first + unitClusters;) {
      const run = findRun(attr.runs, v);
      if (!run) break;
      const n = Math.min(run.vcn + run.length, first + unitClusters) - v;
      if (run.lcn >= 0) allocated += n;
      v += n;
    }
    const out = new Uint8Array(unitClusters * cs);
    if (allocated === unitClusters) await this.readRuns(attr.runs, first * cs, out, what);
    else if (allocated > 0) {
      const packed = new Uint8Array(allocated * cs);
      await this.readRuns(attr.runs, first * cs, packed, what);
      lznt1Decompress(packed, out, what);
    }
    if (key) this.units.set(cacheKey, out);
    return out;
  }
}
