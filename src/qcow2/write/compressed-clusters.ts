/**
 * Compressed cluster writes (qemu-img convert -c). Compressed clusters are packed back to back, as QEMU's
 * qcow2_alloc_bytes packs them: a host cluster's refcount counts the compressed clusters that touch it, and one
 * may run into the next cluster.
 */
import { setU32, u32 } from '../format/bytes';
import { compressedWords } from '../format/entries';
import { badImage } from '../errors';
import type { WritableImage } from './writable-image';
import type { WriterSteps } from './writer-steps';

export class CompressedClusters {
  /** Next free byte in the last host cluster given to compressed data; 0 when there is none. */
  private free = 0;

  constructor(
    private readonly dev: WritableImage,
    private readonly w: WriterSteps,
  ) {}

  /** Stores one cluster's compressed bytes for the guest cluster at `guest`, whose L2 entry must be unallocated; called under the lock. */
  async write(guest: number, bytes: Uint8Array): Promise<void> {
    const { dev, w } = this;
    const info = dev.info;
    const cs = info.clusterSize;
    if (dev.crypto) throw badImage(dev.path, 'compressed clusters cannot be written to an encrypted image');
    if (dev.dataIo || info.hasDataFile) throw badImage(dev.path, 'compressed clusters cannot be written to an image with an external data file');
    if (bytes.length === 0 || bytes.length >= cs)
      throw badImage(dev.path, `a compressed cluster must be shorter than the cluster size (got ${bytes.length} bytes)`);
    const l1Index = Math.floor(guest / info.l1EntrySpan);
    const l2Index = Math.floor((guest - l1Index * info.l1EntrySpan) / cs);
    const l2Offset = await w.ensureL2(l1Index);
    const fetched = await dev.l2Slice(l2Offset, l2Index);
    const at = (l2Index % info.l2SliceEntries) * info.l2EntryBytes;
    for (let i = 0; i < info.l2EntryBytes; i += 4) {
      if (u32(fetched.data, at + i) !== 0)
        throw badImage(dev.path, `guest offset 0x${guest.toString(16)} is already allocated; compressed clusters are written only to unallocated ones`);
    }
    let start = this.free;
    const room = start === 0 ? 0 : cs - (start % cs);
    if (room >= bytes.length) {
      await w.rc.add(Math.floor(start / cs), 1);
    } else {
      const next = await w.allocClusters(1);
      if (room > 0 && next === Math.floor(start / cs) + 1)
        await w.rc.add(next - 1, 1); // runs on into the new cluster
      else start = next * cs;
    }
    await w.writeData(start, bytes);
    const end = start + bytes.length;
    this.free = end % cs === 0 ? 0 : end;
    // Reads take whole 512-byte sectors: the file reaches past the last one by the next flush.
    w.wb.extendTo = Math.max(w.wb.extendTo, Math.ceil(end / cs) * cs);
    dev.noteFileEnd(w.wb.extendTo);
    const slice = dev.cache.current(dev.cache.l2, fetched);
    const [hi, lo] = compressedWords(start, bytes.length, info.clusterBits);
    setU32(slice.data, at, hi);
    setU32(slice.data, at + 4, lo);
    w.wb.markL2(slice);
  }
}
