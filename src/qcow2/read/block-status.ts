/**
 * Block status: how one qcow2 image alone maps guest bytes from an offset, as one run of same-kind,
 * host-contiguous (sub)clusters (QEMU's qcow2_co_block_status). Reads, map and getMapping are built on it.
 */
import { Qcow2Error } from '../errors';
import {
  dataFileMismatch,
  decodeL2Entry,
  l2EntryError,
  standardRunEnd,
  subclusterProblem,
  subclusterState,
  ZERO_LO,
  type CompressedRange,
} from '../format/entries';
import type { Qcow2Info } from '../format/info';
import type { MetadataCache } from '../cache/metadata-cache';
import type { LayerRun, RunKind } from '../layer';

/** What block status needs of an image: its geometry, its L1 table and its L2 slices. */
export interface MappedImage {
  readonly path: string;
  readonly info: Qcow2Info;
  readonly cache: MetadataCache;
  /** The L2 table offset in L1 entry `index` (0 when unallocated); throws on an unaligned one. */
  l2TableOffset(index: number): number;
}

interface Unit {
  kind: RunKind;
  /** The unit's host offset, or -1. */
  host: number;
  compressed?: CompressedRange;
}

export async function blockStatus(img: MappedImage, offset: number, maxLength: number): Promise<LayerRun> {
  const info = img.info;
  const limit = Math.min(maxLength, info.virtualSize - offset);
  if (limit <= 0 || offset < 0) throw new Qcow2Error('range', `offset ${offset} is beyond the virtual size ${info.virtualSize}`, img.path);
  const l1Index = Math.floor(offset / info.l1EntrySpan);
  const l2Offset = img.l2TableOffset(l1Index);
  if (l2Offset === 0) {
    // Coalesce consecutive unallocated L1 entries.
    let end = (l1Index + 1) * info.l1EntrySpan;
    for (let i = l1Index + 1; end < offset + limit && img.l2TableOffset(i) === 0; i++) end += info.l1EntrySpan;
    return { kind: 'unallocated', length: Math.min(end - offset, limit), l1Index };
  }
  const inTable = offset - l1Index * info.l1EntrySpan;
  const l2Index = Math.floor(inTable / info.clusterSize);
  // From here to the return nothing awaits, so the slice may come from l2Now.
  const slice = img.cache.l2Now(l2Offset, l2Index) ?? (await img.cache.l2Slice(l2Offset, l2Index));
  const sliceFirst = l2Index - (l2Index % info.l2SliceEntries);
  // Walk units (subclusters with extended L2, else clusters) from the one holding `offset`.
  const unit = info.subclusterSize;
  const unitsPerCluster = info.subclustersPerCluster;
  const firstUnit = Math.floor(inTable / unit);
  const sliceEndUnit = (sliceFirst + info.l2SliceEntries) * unitsPerCluster;
  const endUnit = Math.min(sliceEndUnit, Math.ceil((inTable + limit) / unit));
  const first = classify(img, slice.data, (l2Index - sliceFirst) * info.l2EntryBytes, firstUnit % unitsPerCluster, l1Index, l2Index);
  let u = firstUnit + 1;
  if (first.kind !== 'compressed' && !info.extendedL2 && !info.hasDataFile) {
    // Fast path for standard entries (map walks millions of them).
    // Entries without a host cluster all hold offset 0; the others continue first.host cluster by cluster.
    const step = first.host < 0 ? 0 : unit;
    const zero = first.kind === 'zero' ? ZERO_LO : 0;
    u =
      sliceFirst +
      standardRunEnd(slice.data, u - sliceFirst, endUnit - sliceFirst, Math.max(first.host, 0) + step, step, zero, info.version >= 3 ? ZERO_LO : 0);
  } else if (first.kind !== 'compressed') {
    for (; u < endUnit; u++) {
      const idx = Math.floor(u / unitsPerCluster);
      const next = classify(img, slice.data, (idx - sliceFirst) * info.l2EntryBytes, u % unitsPerCluster, l1Index, idx);
      if (next.kind !== first.kind) break;
      const expectHost = first.host < 0 ? -1 : first.host + (u - firstUnit) * unit;
      if (next.host !== expectHost) break;
    }
  }
  const runEnd = l1Index * info.l1EntrySpan + u * unit;
  const run: LayerRun = { kind: first.kind, length: Math.min(runEnd - offset, limit), l1Index, l2Index };
  if (first.host >= 0) run.hostOffset = first.host + (inTable - firstUnit * unit);
  if (first.compressed) run.compressed = first.compressed;
  return run;
}

/** Classifies one (sub)cluster from its L2 entry. */
function classify(img: MappedImage, table: Uint8Array, at: number, sub: number, l1Index: number, l2Index: number): Unit {
  const info = img.info;
  const e = decodeL2Entry(table, at, info);
  if (e.problem) throw l2EntryError(img.path, info, l1Index, l2Index, e.problem);
  if (info.hasDataFile) {
    // As QEMU (which then marks the image corrupt): an external data file maps every guest cluster one to one.
    if (e.isCompressed) throw l2EntryError(img.path, info, l1Index, l2Index, 'is compressed, which an image with an external data file cannot have');
    const guest = l1Index * info.l1EntrySpan + l2Index * info.clusterSize;
    if (e.allocated && e.host !== guest) throw l2EntryError(img.path, info, l1Index, l2Index, dataFileMismatch(e.host, guest));
  }
  if (e.compressed) return { kind: 'compressed', host: -1, compressed: e.compressed };
  const state = subclusterState(e, sub, info);
  if (state === null) throw l2EntryError(img.path, info, l1Index, l2Index, subclusterProblem(e, sub));
  const host = e.allocated ? e.host + sub * info.subclusterSize : -1;
  return { kind: state === 'unalloc' ? 'unallocated' : state, host };
}
