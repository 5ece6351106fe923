/**
 * The dirty ranges of a persistent bitmap: its table (one entry per cluster of bits: a data cluster, or all zeros /
 * all ones) decoded run by run. Bit i covers guest bytes [i * granularity, (i + 1) * granularity); QEMU stores the
 * bits least significant first in each byte. Ranges are yielded as they are found, merged across clusters, so
 * memory stays at one bitmap cluster whatever the disk size.
 */
import { badImage } from '../errors';
import type { BitmapEntry } from '../format/bitmaps';
import { readFully, type Qcow2IoOps } from '../io/ops';

export interface DirtyRange {
  start: number;
  length: number;
}

/** What decoding needs of the image. */
export interface BitmapSource {
  readonly io: Qcow2IoOps;
  readonly clusterSize: number;
  readonly virtualSize: number;
  readonly fileSize: number;
}

/** QEMU's limits (block/qcow2-bitmap.c): granularity 512 B to 2 GiB, a table of at most 64 MiB. */
const MIN_GRANULARITY_BITS = 9;
const MAX_GRANULARITY_BITS = 31;
const MAX_TABLE_BYTES = 64 * 1024 * 1024;

export async function* dirtyRanges(src: BitmapSource, bm: BitmapEntry, signal?: AbortSignal): AsyncGenerator<DirtyRange> {
  const file = src.io.path;
  const cs = src.clusterSize;
  const g = bm.granularityBits;
  if (g < MIN_GRANULARITY_BITS || g > MAX_GRANULARITY_BITS) throw badImage(file, `bitmap '${bm.name}' has an invalid granularity (2^${g} bytes)`);
  const granularity = 2 ** g;
  const bits = Math.ceil(src.virtualSize / granularity);
  const bitsPerCluster = cs * 8;
  const needEntries = Math.ceil(bits / bitsPerCluster);
  if (bm.tableSize !== needEntries) throw badImage(file, `bitmap '${bm.name}' table has ${bm.tableSize} entries where the disk size needs ${needEntries}`);
  const tableBytes = bm.tableSize * 8;
  if (tableBytes > MAX_TABLE_BYTES) throw badImage(file, `bitmap '${bm.name}' table is larger than 64 MiB`);
  if (bm.tableOffset % cs !== 0 || bm.tableOffset + tableBytes > src.fileSize)
    throw badImage(file, `bitmap '${bm.name}' table at 0x${bm.tableOffset.toString(16)} lies beyond the end of the file`);
  const table = new Uint8Array(tableBytes);
  if ((await readFully(src.io, table, bm.tableOffset)) < tableBytes) throw badImage(file, `bitmap '${bm.name}' table is truncated`);
  const view = new DataView(table.buffer);
  const data = new Uint8Array(cs);
  let runStart = -1; // guest offset where the current dirty run began, or -1
  const end = src.virtualSize;
  const close = (at: number): DirtyRange | undefined => {
    if (runStart < 0) return undefined;
    const r = { start: runStart, length: Math.min(at, end) - runStart };
    runStart = -1;
    return r;
  };
  for (let e = 0; e < bm.tableSize; e++) {
    if (signal?.aborted) throw badImage(file, 'bitmap decoding was cancelled');
    const hi = view.getUint32(e * 8);
    const lo = view.getUint32(e * 8 + 4);
    const offset = (hi & 0x00ff_ffff) * 0x1_0000_0000 + (lo & 0xffff_fe00);
    if (hi & 0xff00_0000 || lo & 0x1fe) throw badImage(file, `bitmap '${bm.name}' table entry ${e} has reserved bits set`);
    const firstBit = e * bitsPerCluster;
    const nBits = Math.min(bitsPerCluster, bits - firstBit);
    if (offset === 0) {
      // All zeros or all ones: one step for the whole cluster of bits.
      const ones = (lo & 1) === 1;
      if (ones && runStart < 0) runStart = firstBit * granularity;
      if (!ones) {
        const r = close(firstBit * granularity);
        if (r) yield r;
      }
      continue;
    }
    if (lo & 1) throw badImage(file, `bitmap '${bm.name}' table entry ${e} has bit 0 set with a data cluster`);
    if (offset % cs !== 0 || offset + cs > src.fileSize)
      throw badImage(file, `bitmap '${bm.name}' data cluster at 0x${offset.toString(16)} lies beyond the end of the file`);
    data.fill(0);
    await readFully(src.io, data, offset);
    for (let i = 0; i < nBits;) {
      const byte = data[i >> 3];
      // Whole bytes of zeros or ones at once.
      if ((i & 7) === 0 && i + 8 <= nBits && (byte === 0 || byte === 0xff)) {
        if (byte === 0xff && runStart < 0) runStart = (firstBit + i) * granularity;
        else if (byte === 0) {
          const r = close((firstBit + i) * granularity);
          if (r) yield r;
        }
        i += 8;
        continue;
      }
      const set = (byte >> (i & 7)) & 1;
      if (set && runStart < 0) runStart = (firstBit + i) * granularity;
      else if (!set) {
        const r = close((firstBit + i) * granularity);
        if (r) yield r;
      }
      i++;
    }
  }
  const last = close(end);
  if (last) yield last;
}
