/**
 * The lock-free fast path for overwrites: when every cluster a write touches is already this image's own
 * (L1 and L2 entries with COPIED set, plain data, every touched subcluster allocated), the mapping cannot
 * change under us (the write path only ever replaces entries without COPIED), so the data is written
 * straight to its host offsets without taking the write mutex and without touching metadata.
 */
import { entryOffset, entryWords, isCompressed, isCopied, ZERO_LO } from '../format/entries';
import type { MetaWriteback } from './meta-writeback';
import type { MetadataMap } from './metadata-map';
import type { Qcow2Dev } from '../qcow2-dev';
import { u32 } from '../format/bytes';

/** Writes larger than this take the normal path (they are rarely pure overwrites of small extents). */
const MAX_FAST_BYTES = 1 << 20;

/**
 * Host offsets of the clusters a write touches, if all of them can be overwritten in place and their L2
 * slices are cached (decided synchronously, so the caller can keep writes in issue order); otherwise null.
 */
export function planInPlace(dev: Qcow2Dev, buf: Uint8Array, offset: number): number[] | null {
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
    const slice = dev.l2Cache.peek(l2Offset + sliceFirst * info.l2EntryBytes);
    if (!slice) return null;
    const at = (idx - sliceFirst) * info.l2EntryBytes;
    const [hi, lo] = entryWords(slice.data, at);
    if (!isCopied(hi) || isCompressed(hi)) return null;
    const off = entryOffset(hi, lo);
    if ((off === 0 && !info.hasDataFile) || off % cs !== 0) return null;
    if (!dev.dataIo && off >= dev.fileSize) return null; // past the end: the slow path refuses it
    if (info.extendedL2) {
      const a = idx === first ? offset - tableStart - idx * cs : 0;
      const b = idx === last ? offset + buf.length - tableStart - idx * cs : cs;
      const sa = Math.floor(a / info.subclusterSize);
      const sb = Math.ceil(b / info.subclusterSize);
      const mask = sb - sa === 32 ? 0xffffffff : ((((1 << (sb - sa)) >>> 0) - 1) << sa) >>> 0;
      if ((u32(slice.data, at + 12) & mask) >>> 0 !== mask) return null;
    } else if (lo & ZERO_LO && info.version >= 3) {
      return null;
    }
    hosts.push(off);
  }
  return hosts;
}

/** Writes buf over the clusters planInPlace found, one request per host-contiguous run. */
export async function writeInPlaceRuns(dev: Qcow2Dev, meta: MetadataMap, wb: MetaWriteback, hosts: number[], buf: Uint8Array, offset: number): Promise<void> {
  const cs = dev.info.clusterSize;
  const io = dev.dataIo ?? dev.io;
  let pos = 0;
  for (let i = 0; i < hosts.length; ) {
    let j = i + 1;
    while (j < hosts.length && hosts[j] === hosts[j - 1] + cs) j++;
    const start = i === 0 ? offset % cs : 0;
    const runEnd = Math.min(buf.length, pos + (j - i) * cs - start);
    const host = hosts[i] + start;
    if (!dev.dataIo) meta.check(host, runEnd - pos);
    await io.writeAt(buf.subarray(pos, runEnd), host);
    pos = runEnd;
    i = j;
  }
  if (dev.dataIo) wb.dataFileUnsynced = true;
  else wb.imageDataUnsynced = true;
}
