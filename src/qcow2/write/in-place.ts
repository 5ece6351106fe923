/**
 * The lock-free fast path for overwrites: when every cluster a write touches is already this image's own
 * (L1 and L2 entries with COPIED set, plain data, every touched subcluster allocated), the mapping cannot
 * change under us (the write path only ever replaces entries without COPIED), so the data is written
 * straight to its host offsets without taking the write lock and without touching metadata.
 */
import { decodeL2Entry, entryWords, isCopied, subclusterMask, ZERO_LO } from '../format/entries';
import type { MetaWriteback } from './meta-writeback';
import type { MetadataMap } from './metadata-map';
import type { WritableImage } from './writable-image';
import { encryptedCopy } from '../crypto/image-crypto';

/** Writes larger than this take the normal path (they are rarely pure overwrites of small extents). */
const MAX_FAST_BYTES = 1 << 20;

/**
 * Host offsets of the clusters a write touches, if all of them can be overwritten in place and their L2
 * slices are cached (decided synchronously, so the caller can keep writes in issue order); otherwise null.
 */
export function planInPlace(dev: WritableImage, buf: Uint8Array, offset: number): number[] | null {
  const info = dev.info;
  if (buf.length > MAX_FAST_BYTES || (info.hasDataFile && !dev.dataIo)) return null;
  const l1Index = Math.floor(offset / info.l1EntrySpan);
  const tableStart = l1Index * info.l1EntrySpan;
  if (offset + buf.length > tableStart + info.l1EntrySpan) return null;
  const [l1hi] = entryWords(dev.l1, l1Index * 8);
  const l2Offset = dev.l2TableOffset(l1Index);
  if (l2Offset === 0 || !isCopied(l1hi)) return null;
  const cs = info.clusterSize;
  const first = Math.floor((offset - tableStart) / cs);
  const last = Math.floor((offset + buf.length - 1 - tableStart) / cs);
  const hosts: number[] = [];
  for (let idx = first; idx <= last; idx++) {
    const sliceFirst = idx - (idx % info.l2SliceEntries);
    const slice = dev.cache.l2.peek(l2Offset + sliceFirst * info.l2EntryBytes);
    if (!slice) return null;
    // Anything unusual (compressed, shared, unallocated, zero, invalid) is the slow path's to handle or refuse.
    const e = decodeL2Entry(slice.data, (idx - sliceFirst) * info.l2EntryBytes, info);
    if (!e.copied || e.isCompressed || e.problem) return null;
    if (e.host === 0 && !info.hasDataFile) return null;
    if (!dev.dataIo && e.host >= dev.fileSize) return null; // past the end: the slow path refuses it
    if (info.extendedL2) {
      const a = idx === first ? offset - tableStart - idx * cs : 0;
      const b = idx === last ? offset + buf.length - tableStart - idx * cs : cs;
      const mask = subclusterMask(Math.floor(a / info.subclusterSize), Math.ceil(b / info.subclusterSize));
      if ((e.allocBits & mask) >>> 0 !== mask || (e.zeroBits & mask) !== 0) return null;
    } else if (e.lo & ZERO_LO && info.version >= 3) {
      return null;
    }
    hosts.push(e.host);
  }
  return hosts;
}

/** Writes buf over the clusters planInPlace found, one request per host-contiguous run. */
export async function writeInPlaceRuns(
  dev: WritableImage,
  meta: MetadataMap,
  wb: MetaWriteback,
  hosts: number[],
  buf: Uint8Array,
  offset: number,
): Promise<void> {
  const cs = dev.info.clusterSize;
  const io = dev.dataIo ?? dev.io;
  let pos = 0;
  for (let i = 0; i < hosts.length;) {
    let j = i + 1;
    while (j < hosts.length && hosts[j] === hosts[j - 1] + cs) j++;
    const start = i === 0 ? offset % cs : 0;
    const runEnd = Math.min(buf.length, pos + (j - i) * cs - start);
    const host = hosts[i] + start;
    if (!dev.dataIo) meta.check(host, runEnd - pos);
    await io.writeAt(encryptedCopy(dev.crypto, buf.subarray(pos, runEnd), host), host);
    pos = runEnd;
    i = j;
  }
  if (dev.dataIo) wb.dataFileUnsynced = true;
  else wb.imageDataUnsynced = true;
}
