/**
 * Zero writes (qemu-io write -z): whole clusters become zero clusters (an owned cluster keeps its host offset, as
 * QEMU's zero_in_l2_slice without unmap; a compressed or shared one is dropped); the partial clusters at the ends
 * are written with zero bytes. Version 2 images have no zero flag: there every byte is written.
 */
import { setU32 } from '../format/bytes';
import { l2EntryError, standardWords, ZERO_LO } from '../format/entries';
import { planCluster } from './plan';
import type { WritableImage } from './writable-image';
import { ALL_SUBCLUSTERS, MAX_CHUNK_BYTES, type WriterSteps } from './writer-steps';

/** Makes [offset, offset + length) read as zeros; called under the lock. */
export async function writeZeroes(dev: WritableImage, w: WriterSteps, offset: number, length: number): Promise<void> {
  const info = dev.info;
  const cs = info.clusterSize;
  const end = offset + length;
  const zeros = (from: number, to: number) => w.writeAt(new Uint8Array(to - from), from);
  if (info.version < 3) {
    for (let p = offset; p < end; p += MAX_CHUNK_BYTES) await zeros(p, Math.min(end, p + MAX_CHUNK_BYTES));
    return;
  }
  const first = Math.ceil(offset / cs) * cs;
  const last = Math.max(first, Math.floor(end / cs) * cs);
  if (offset < Math.min(first, end)) await zeros(offset, Math.min(first, end));
  for (let guest = first; guest < last; guest += cs) {
    const l1Index = Math.floor(guest / info.l1EntrySpan);
    const l2Index = Math.floor((guest - l1Index * info.l1EntrySpan) / cs);
    const fetched = await dev.l2Slice(await w.ensureL2(l1Index), l2Index);
    const at = (l2Index % info.l2SliceEntries) * info.l2EntryBytes;
    const plan = planCluster(info, fetched, at, guest, 0, cs, (what) => l2EntryError(dev.path, info, l1Index, l2Index, what));
    const keep = plan.mode === 'inplace' ? plan.host : 0;
    const [hi, lo] = keep ? standardWords(keep, true, !info.extendedL2) : [0, info.extendedL2 ? 0 : ZERO_LO];
    const slice = dev.cache.current(dev.cache.l2, fetched);
    setU32(slice.data, at, hi);
    setU32(slice.data, at + 4, lo);
    if (info.extendedL2) {
      setU32(slice.data, at + 8, ALL_SUBCLUSTERS);
      setU32(slice.data, at + 12, 0);
    }
    w.wb.markL2(slice);
    if (!keep) w.wb.pendingDecrements.push(...plan.release);
    if (w.wb.overCacheLimit()) await w.flush();
  }
  if (last < end && last >= offset) await zeros(last, end);
}
