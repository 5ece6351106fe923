/**
 * The guest map of a whole backing chain, exactly as `qemu-img map` (QEMU 7.2) reports it.
 *
 * qemu-img asks bdrv_block_status() layer by layer (get_block_status in qemu-img.c) and merges neighbouring
 * answers (entry_mergeable). This file reproduces what each layer answers (qcow2_co_block_status,
 * bdrv_co_block_status in block/io.c, raw_co_block_status in block/file-posix.c), including two details
 * that change the output:
 *  - a range that is unallocated in a qcow2 layer reads as zero when there is no backing file or the range
 *    starts at or past the backing file's end;
 *  - when qcow2_detect_metadata_preallocation() decides the image looks metadata-preallocated, data
 *    clusters are checked against the host file: ranges in holes or past its end are reported as
 *    zero (and still data).
 * Memory stays bounded: entries are produced one at a time.
 */
import { isAligned } from '../format/bytes';
import { entryOffset, entryWords } from '../format/entries';
import { readFully, type Qcow2IoOps } from '../io/ops';
import type { BlockLayer } from '../layer';
import { Qcow2Dev } from '../qcow2-dev';
import { RawDev } from '../raw-dev';
import { getRefcount } from '../format/refcount-codec';
import { fileExtentAt } from '../io/holes';

/** One line of `qemu-img map --output=json`. */
export interface MapEntry {
  start: number;
  length: number;
  depth: number;
  present: boolean;
  zero: boolean;
  data: boolean;
  /** Host offset in `file` (qemu's "offset"); absent for compressed and plain unallocated ranges. */
  offset?: number;
  /** The host file `offset` refers to, named as qemu-img names it (human output only). */
  file?: string;
}

/** L2 cache size for a one-pass scan: each slice is visited once, so more slices would only cost fresh memory. */
export const SCAN_L2_CACHE_SLICES = 4;

/** qemu-img probes at most 1 GiB at a time. */
const PROBE_LIMIT = 1024 ** 3;

/** What one layer says about a range (bdrv_co_block_status with want_zero). */
interface LayerStatus {
  length: number;
  data: boolean;
  zero: boolean;
  allocated: boolean;
  offset?: number;
  file?: string;
}

export interface MapOptions {
  /** Human output coalesces more: qemu-img treats every non-data range alike there. */
  human?: boolean;
}

/**
 * Yields the merged map entries of `top` and its backing chain, as qemu-img map does, from guest offset 0 to
 * the virtual size. `topName` is how the image was named on the command line (used for file names).
 */
export async function* mapEntries(top: BlockLayer, topName = top.path, opts: MapOptions = {}): AsyncGenerator<MapEntry> {
  const chain = new ChainView(top, topName);
  const length = top.virtualSize;
  let curr: MapEntry = { start: 0, length: 0, depth: 0, present: false, zero: false, data: false };
  while (curr.start + curr.length < length) {
    const offset = curr.start + curr.length;
    const next = await chain.blockStatus(offset, Math.min(PROBE_LIMIT, length - offset));
    if (mergeable(curr, next)) {
      curr.length += next.length;
      continue;
    }
    if (curr.length > 0) {
      yield curr;
      // qemu-img's human format ignores the difference between unallocated, zero and zero+data.
      if (opts.human && (!next.data || next.zero)) {
        next.data = false;
        next.zero = true;
      }
    }
    curr = next;
  }
  yield curr;
}

/** qemu-img's entry_mergeable. */
function mergeable(curr: MapEntry, next: MapEntry): boolean {
  if (curr.length === 0) return false;
  if (curr.zero !== next.zero || curr.data !== next.data || curr.depth !== next.depth || curr.present !== next.present) return false;
  if ((curr.file === undefined) !== (next.file === undefined) || (curr.offset === undefined) !== (next.offset === undefined)) return false;
  if (curr.file !== undefined && curr.file !== next.file) return false;
  if (curr.offset !== undefined && curr.offset + curr.length !== next.offset) return false;
  return true;
}

/** QEMU's path_combine: a relative name is taken relative to the folder of the naming file, unnormalised. */
export function qemuPathCombine(baseName: string, name: string): string {
  if (name.startsWith('/')) return name;
  const slash = baseName.lastIndexOf('/');
  return slash < 0 ? name : baseName.slice(0, slash + 1) + name;
}

/** Per-run state: file names as qemu-img prints them, file sizes, and each layer's preallocation verdict. */
class ChainView {
  private readonly names = new Map<BlockLayer, string>();
  private readonly prealloc = new Map<BlockLayer, Promise<boolean>>();
  private readonly sizes = new Map<Qcow2IoOps, Promise<number>>();

  constructor(
    private readonly top: BlockLayer,
    topName: string,
  ) {
    let name = topName;
    for (let layer: BlockLayer | undefined = top; layer; layer = layer.backing) {
      this.names.set(layer, name);
      const recorded = layer instanceof Qcow2Dev ? layer.header.backingFile : undefined;
      name = recorded === undefined ? (layer.backing?.path ?? '') : qemuPathCombine(name, recorded);
    }
  }

  /** qemu-img's get_block_status: walk down while a layer neither has the data nor knows it is zero. */
  async blockStatus(offset: number, bytes: number): Promise<MapEntry> {
    let layer = this.top;
    let depth = 0;
    for (;;) {
      const st = await this.layerStatus(layer, offset, bytes);
      bytes = st.length;
      if (st.data || st.zero || !layer.backing) {
        const e: MapEntry = { start: offset, length: bytes, depth, present: st.allocated, zero: st.zero, data: st.data };
        if (st.offset !== undefined) {
          e.offset = st.offset;
          e.file = st.file;
        }
        return e;
      }
      layer = layer.backing;
      depth++;
    }
  }

  private async layerStatus(layer: BlockLayer, offset: number, bytes: number): Promise<LayerStatus> {
    bytes = Math.min(bytes, layer.virtualSize - offset);
    if (layer instanceof Qcow2Dev) return this.qcow2Status(layer, offset, bytes);
    if (layer instanceof RawDev) {
      // raw format passes the question to the file: holes read as zero.
      const st = await this.fileStatus(layer.io, offset, bytes);
      return { ...st, allocated: true, offset, file: this.names.get(layer) };
    }
    return { length: bytes, data: true, zero: false, allocated: true };
  }

  private async qcow2Status(dev: Qcow2Dev, offset: number, bytes: number): Promise<LayerStatus> {
    const run = await dev.blockStatus(offset, bytes);
    const name = this.names.get(dev)!;
    const st: LayerStatus = { length: run.length, data: false, zero: false, allocated: false };
    // As QEMU, an encrypted image reports no host offsets (its host bytes are not the guest's).
    if (run.hostOffset !== undefined && run.kind !== 'compressed' && dev.header.cryptMethod === 0) {
      st.offset = run.hostOffset;
      st.file = dev.dataIo ? qemuPathCombine(name, dev.header.extensions.dataFile ?? '') : name;
    }
    if (run.kind === 'zero') st.zero = true;
    else if (run.kind !== 'unallocated') st.data = true;
    if (st.data || st.zero) st.allocated = true;
    else if (!dev.backing || offset >= dev.backing.virtualSize) st.zero = true;
    if (run.kind === 'data' && st.offset !== undefined && (await this.isMetadataPreallocated(dev))) {
      // BDRV_BLOCK_RECURSE: ask the host file; holes and the part past its end read as zero.
      const file = await this.fileStatus(dev.dataIo ?? dev.io, st.offset, st.length);
      st.length = file.length;
      st.zero = file.zero;
    }
    return st;
  }

  /** file-posix's answer for [offset, offset + bytes) of a host file: holes, and everything past its end, are zero. */
  private async fileStatus(io: Qcow2IoOps, offset: number, bytes: number): Promise<{ length: number; data: boolean; zero: boolean }> {
    const ext = fileExtentAt(fdOf(io), await this.fileSize(io), offset);
    return { length: Math.min(bytes, ext.end - offset), data: !ext.hole, zero: ext.hole };
  }

  private fileSize(io: Qcow2IoOps): Promise<number> {
    let p = this.sizes.get(io);
    if (!p) this.sizes.set(io, (p = io.size()));
    return p;
  }

  private isMetadataPreallocated(dev: Qcow2Dev): Promise<boolean> {
    let p = this.prealloc.get(dev);
    if (!p) this.prealloc.set(dev, (p = detectMetadataPreallocation(dev).catch(() => false)));
    return p;
  }
}

function fdOf(io: Qcow2IoOps): number | undefined {
  const fd = (io as { fd?: unknown }).fd;
  return typeof fd === 'number' ? fd : undefined;
}

/**
 * qcow2_detect_metadata_preallocation: the image looks metadata-preallocated when at least
 * max(real * 10 / 9, real + 2) clusters have a refcount, `real` being the clusters the file really
 * occupies on disk (st_blocks). Stops counting once that is certain,
 * and reads one refcount block at a time.
 */
export async function detectMetadataPreallocation(dev: Qcow2Dev): Promise<boolean> {
  const allocated = (dev.io as { allocatedSize?: () => Promise<number> }).allocatedSize;
  if (!allocated) return false; // qemu treats "cannot tell" as not preallocated
  await dev.prepIo();
  const { clusterSize, refblockEntries, refcountBits } = dev.info;
  const fileLength = Math.ceil((await dev.io.size()) / 512) * 512;
  const realClusters = Math.floor((await allocated.call(dev.io)) / clusterSize);
  const threshold = Math.max(Math.floor((realClusters * 10) / 9), realClusters + 2);
  const endCluster = Math.ceil(fileLength / clusterSize);
  const tableEntries = dev.reftable.length / 8;
  const block = new Uint8Array(clusterSize);
  let count = 0;
  for (let first = 0; first < endCluster && count < threshold; first += refblockEntries) {
    const index = first / refblockEntries;
    if (index >= tableEntries) break;
    const [hi, lo] = entryWords(dev.reftable, index * 8);
    const blockOffset = entryOffset(hi, lo);
    if (blockOffset === 0) continue;
    if (!isAligned(blockOffset, clusterSize)) return false; // qemu: corruption, -EIO, so "no"
    const n = await readFully(dev.io, block, blockOffset);
    block.fill(0, n);
    const end = Math.min(refblockEntries, endCluster - first);
    for (let i = 0; i < end && count < threshold; i++) if (getRefcount(block, i, refcountBits) !== 0) count++;
  }
  return count >= threshold;
}
