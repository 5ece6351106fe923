/**
 * Which host clusters hold metadata, so guest data never overwrites them (QEMU's "cached" overlap checks:
 * header, active L1 and L2 tables, refcount table and blocks, snapshot table and snapshot L1 tables, bitmaps).
 */
import { alignDown } from '../format/bytes';
import { entryOffset, entryWords, reftableOffset } from '../format/entries';
import { Qcow2Error } from '../errors';
import type { WritableImage } from './writable-image';

export class MetadataMap {
  private readonly clusters = new Map<number, string>();
  private readonly cs: number;

  constructor(private readonly dev: WritableImage) {
    this.cs = dev.info.clusterSize;
    const h = dev.header;
    this.addRange(0, this.cs, 'image header');
    this.addRange(h.l1TableOffset, h.l1Size * 8, 'active L1 table');
    this.addRange(h.refcountTableOffset, h.refcountTableClusters * this.cs, 'refcount table');
    for (let r = 0; r < dev.reftable.length / 8; r++) {
      const [hi, lo] = entryWords(dev.reftable, r * 8);
      const off = reftableOffset(hi, lo);
      if (off) this.addRange(off, this.cs, 'refcount block');
    }
    for (let i = 0; i < h.l1Size; i++) {
      const [hi, lo] = entryWords(dev.l1, i * 8);
      const off = entryOffset(hi, lo);
      if (off) this.addRange(off, this.cs, 'active L2 table');
    }
    if (h.nbSnapshots > 0) this.addRange(h.snapshotsOffset, dev.snapshotTableBytes, 'snapshot table');
    for (const s of dev.snapshots) if (!s.damage) this.addRange(s.l1TableOffset, s.l1Size * 8, `L1 table of snapshot ${s.id}`);
    const bm = h.extensions.bitmaps;
    if (bm) this.addRange(bm.directoryOffset, bm.directorySize, 'bitmap directory');
    for (const b of dev.bitmaps) this.addRange(b.tableOffset, b.tableSize * 8, `table of bitmap ${b.name}`);
    const crypto = h.extensions.crypto;
    if (crypto) this.addRange(crypto.offset, crypto.length, 'encryption header');
  }

  addRange(offset: number, bytes: number, what: string): void {
    if (bytes <= 0) return;
    for (let c = alignDown(offset, this.cs); c < offset + bytes; c += this.cs) this.clusters.set(c / this.cs, what);
  }

  removeRange(offset: number, bytes: number): void {
    for (let c = alignDown(offset, this.cs); c < offset + bytes; c += this.cs) this.clusters.delete(c / this.cs);
  }

  has(cluster: number): boolean {
    return this.clusters.has(cluster);
  }

  /** Throws instead of letting a write of guest data at [offset, offset+bytes) land on metadata. */
  check(offset: number, bytes: number, purpose = 'guest data'): void {
    for (let c = alignDown(offset, this.cs); c < offset + bytes; c += this.cs) {
      const what = this.clusters.get(c / this.cs);
      if (what !== undefined) {
        throw new Qcow2Error(
          'bad-image',
          `refusing to write ${purpose} at host offset 0x${c.toString(16)}: it holds the ${what} (the image's metadata is inconsistent; run qemu-img check)`,
          this.dev.path,
        );
      }
    }
  }
}
