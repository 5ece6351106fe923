/**
 * `qemu-img measure`: how large an image converted to qcow2 (or raw) would be. The formulas are QEMU's
 * (qcow2_measure, qcow2_calc_prealloc_size, qcow2_refcount_metadata_size and the persistent-bitmap estimate), so
 * the numbers are the same; the allocated data comes from the chain's map, like bdrv_block_status_above.
 */
import { alignUp } from './format/bytes';
import type { BitmapEntry } from './format/bitmaps';
import { normalizeCreateOptions, type CreateOptions } from './create-options';
import type { BlockLayer } from './layer';
import { mapEntries } from './read/map';

export interface MeasureResult {
  required: number;
  fullyAllocated: number;
  /** Space for the input's persistent bitmaps; present when qemu-img prints it (qcow2 v3 in and out). */
  bitmaps?: number;
}

/** Preallocation as measure knows it: falloc and full count every data cluster. */
export type MeasurePreallocation = 'off' | 'metadata' | 'falloc' | 'full';

export interface MeasureOptions extends Omit<CreateOptions, 'size' | 'preallocation'> {
  preallocation?: MeasurePreallocation;
}

const L1E_SIZE = 8;
const REFTABLE_ENTRY_SIZE = 8;
const BITMAP_TABLE_ENTRY_SIZE = 8;
const BITMAP_DIR_ENTRY_SIZE = 24;

/** Refcount table and blocks for `clusters` clusters, counting themselves (QEMU iterates until it converges). */
export function refcountMetadataSize(clusters: number, clusterSize: number, refcountOrder: number): number {
  const blocksPerTableCluster = clusterSize / REFTABLE_ENTRY_SIZE;
  const refcountsPerBlock = (clusterSize * 8) / 2 ** refcountOrder;
  let table = 0;
  let blocks = 0;
  let n = 0;
  let last: number;
  do {
    last = n;
    blocks = Math.ceil((clusters + table + blocks) / refcountsPerBlock);
    table = Math.ceil(blocks / blocksPerTableCluster);
    n = clusters + blocks + table;
  } while (n !== last);
  return (blocks + table) * clusterSize;
}

/** The size of a fully allocated image: header, L2 and L1 tables, refcounts, and every data cluster. */
export function preallocatedSize(totalSize: number, clusterSize: number, refcountOrder: number, extendedL2: boolean): number {
  const aligned = alignUp(totalSize, clusterSize);
  const l2eSize = extendedL2 ? 16 : 8;
  let meta = clusterSize; // header
  const nl2e = alignUp(aligned / clusterSize, clusterSize / l2eSize);
  meta += nl2e * l2eSize;
  const nl1e = alignUp((nl2e * l2eSize) / clusterSize, clusterSize / L1E_SIZE);
  meta += nl1e * L1E_SIZE;
  meta += refcountMetadataSize((meta + aligned) / clusterSize, clusterSize, refcountOrder);
  return meta + aligned;
}

/** Room for the bitmaps of a `diskSize`-byte disk if every bitmap cluster were allocated, plus their directory. */
export function bitmapsSize(bitmaps: readonly Pick<BitmapEntry, 'name' | 'granularityBits'>[], diskSize: number, clusterSize: number): number {
  let size = 0;
  let dir = 0;
  for (const b of bitmaps) {
    const bytes = Math.ceil(Math.ceil(diskSize / 2 ** b.granularityBits) / 8);
    const clusters = Math.ceil(bytes / clusterSize);
    size += clusters * clusterSize + alignUp(clusters * BITMAP_TABLE_ENTRY_SIZE, clusterSize);
    dir += alignUp(BITMAP_DIR_ENTRY_SIZE + Buffer.byteLength(b.name), 8);
  }
  return size + alignUp(dir, clusterSize);
}

/**
 * Guest bytes the chain holds as data, counted in whole output clusters as QEMU does: each data run is extended to
 * the end of its cluster and counted from the cluster's start, and the walk goes on from there (zero runs are free).
 */
export async function allocatedDataBytes(input: BlockLayer, clusterSize: number): Promise<number> {
  let required = 0;
  let offset = 0;
  for await (const e of mapEntries(input)) {
    const end = e.start + e.length;
    if (end <= offset) continue;
    const at = Math.max(offset, e.start);
    if (e.zero || !e.data || !e.present) {
      offset = end;
      continue;
    }
    const pnum = alignUp(end, clusterSize) - at;
    required += (at % clusterSize) + pnum;
    offset = at + pnum;
  }
  return required;
}

/**
 * qcow2_measure. `input` is the image to convert (its bitmaps counted when `inputBitmaps` is given, a qcow2 v3), or
 * undefined with `size` for an empty image of that size. A backing file in the options counts every cluster, as
 * QEMU cannot know what the backing file shares.
 */
export async function measureQcow2(
  input: BlockLayer | undefined,
  size: number,
  opts: MeasureOptions & { backingFile?: string },
  file: string,
  inputBitmaps?: readonly BitmapEntry[],
): Promise<MeasureResult> {
  const { preallocation, backingFile, ...rest } = opts;
  // The same option checks as create (cluster size, refcount width, compat), with backing options left out.
  const o = normalizeCreateOptions({ ...rest, size, preallocation: preallocation === 'metadata' ? 'metadata' : 'off' }, file);
  const cs = o.clusterSize;
  const virtualSize = alignUp(size, cs);
  let required = 0;
  if (input) required = backingFile !== undefined ? virtualSize : await allocatedDataBytes(input, cs);
  if (preallocation === 'full' || preallocation === 'falloc') required = virtualSize;
  const fullyAllocated = preallocatedSize(virtualSize, cs, Math.log2(o.refcountBits), o.extendedL2);
  const result: MeasureResult = { required: fullyAllocated - virtualSize + required, fullyAllocated };
  if (o.compat === '1.1' && input && inputBitmaps) result.bitmaps = bitmapsSize(inputBitmaps, input.virtualSize, cs);
  return result;
}

/** raw_measure: a raw image is as large as the disk (the size rounded up to whole 512-byte sectors). */
export function measureRaw(size: number): MeasureResult {
  const n = alignUp(size, 512);
  return { required: n, fullyAllocated: n };
}
