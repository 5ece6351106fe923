/**
 * The lock-free fast path for overwrites: when every cluster a write touches is already this image's own
 * (L1 and L2 entries with COPIED set, plain data, every touched subcluster allocated), the mapping cannot
 * change under us (the write path only ever replaces entries without COPIED), so the data is written
 * straight to its host offsets without taking the write mutex and without touching metadata.
 */
import { entryOffset, entryWords, isCompressed, isCopied, ZERO_LO } from './entries';
import type { MetaWriteback } from './flush';
import type { MetadataMap } from './overlap';
import type { Qcow2Dev } from './qcow2-dev';
import { u32 } from './bytes';

/** Writes larger than this take the normal path (they are rarely pure overwrites of small extents). */
const MAX_FAST_BYTES = 1 << 20;

export async function tryWriteInPlace(dev: Qcow2Dev, meta: MetadataMap, wb: MetaWriteback, buf: Uint8Array, offset: number): Promise<boolean> {
  const info = dev.info;
  if (buf.length > MAX_FAST_BYTES || (info.hasDataFile && !dev.dataIo)) return false;
  const l1Index = Math.floor(offset / info.l1EntrySpan);
  const tableStart = l1Index * info.l1EntrySpan;
  if (offset + buf.length > tableStart + info.l1EntrySpan) return false;
  const [l1hi] = entryWords(dev.l1, l1Index * 8);
  const l2Offset = dev.l2TableOffset(l1Index);
  if (l2Offset === 0 || !isCopied(l1hi)) return false;
  const cs = info.clusterSize;
  const first = Math.floor((offset - tableStart) / cs);
  const last = Math.floor((offset + buf.length - 1 - tableStart) / cs);
  // Resolve every cluster first: nothing is written unless all of them qualify.
  const hosts: number[] = [];
  for (let idx = first; idx <= last; idx++) {
    const slice = await dev.l2Slice(l2Offset, idx);
    const at = (idx % info.l2SliceEntries) * info.l2EntryBytes;
    const [hi, lo] = entryWords(slice.data, at);
    if (!isCopied(hi) || isCompressed(hi)) return false;
    const off = entryOffset(hi, lo);
    if ((off === 0 && !info.hasDataFile) || off % cs !== 0) return false;
    if (!dev.dataIo && off >= dev.fileSize) return false; // past the end of the file: the normal path refuses it
    if (info.extendedL2) {
      const a = idx === first ? offset - tableStart - idx * cs : 0;
      const b = idx === last ? offset + buf.length - tableStart - idx * cs : cs;
      const sa = Math.floor(a / info.subclusterSize);
      const sb = Math.ceil(b / info.subclusterSize);
      const mask = sb - sa === 32 ? 0xffffffff : ((((1 << (sb - sa)) >>> 0) - 1) << sa) >>> 0;
      if ((u32(slice.data, at + 12) & mask) >>> 0 !== mask) return false;
    } else if (lo & ZERO_LO && info.version >= 3) {
      return false;
    }
    hosts.push(off);
  }
  // Write host-contiguous runs.
  const io = dev.dataIo ?? dev.io;
  let pos = 0;
  for (let i = 0; i < hosts.length; ) {
    let j = i + 1;
    while (j < hosts.length && hosts[j] === hosts[j - 1] + cs) j++;
    const start = i === 0 ? offset - tableStart - first * cs : 0;
    const runEnd = Math.min(buf.length, pos + (j - i) * cs - start);
    const host = hosts[i] + start;
    if (!dev.dataIo) meta.check(host, runEnd - pos);
    await io.writeAt(buf.subarray(pos, runEnd), host);
    pos = runEnd;
    i = j;
  }
  if (dev.dataIo) wb.dataFileUnsynced = true;
  else wb.imageDataUnsynced = true;
  return true;
}
