/**
 * Searching one guest file: its bytes in file order (fragments joined, so a match across two fragments is found;
 * holes read as zeros), each hit then placed back on the guest disk through the file's extents. The file system
 * reader does the reading; nothing here writes.
 */
import type { BlockLayer } from '../qcow2';
import type { Extent, GuestFs } from '../guestfs';
import type { SearchTarget } from './range-scan';
import type { SearchHit } from './search';

/** A hit in a file: where it is in the file, and on the guest disk (null in a hole or in inline/resident data). */
export interface FileHit {
  fileOffset: number;
  guestOffset: number | null;
  length: number;
  /** Depth in the backing chain of the layer holding the first byte (0 = the image itself). */
  layer: number;
  hostOffset: number | null;
}

/** The file `path` of `fs`, `size` bytes long, as something to search. */
export function fileTarget(fs: GuestFs, path: string, size: number): SearchTarget {
  return {
    virtualSize: size,
    async readAt(buf, offset) {
      const got = await fs.read(path, offset, buf.length);
      buf.set(got.subarray(0, buf.length));
      buf.fill(0, Math.min(got.length, buf.length));
      return buf.length;
    },
    // The file's bytes are all to be read: the scan must not skip any as zeros or holes of the disk.
    async getMapping(offset) {
      return { offset, length: size - offset, kind: 'data', depth: 0, file: path, format: 'raw' };
    },
  };
}

/** The guest-disk offset of byte `logical` of a file with these extents (sorted by logical offset), or null. */
export function diskOffsetOf(extents: readonly Extent[], logical: number): number | null {
  let lo = 0;
  let hi = extents.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (extents[mid].logical + extents[mid].length <= logical) lo = mid + 1;
    else hi = mid;
  }
  const x = extents[lo];
  return x && x.logical <= logical ? x.diskOffset + (logical - x.logical) : null;
}

/** File hits placed on the disk: the guest offset, and the layer and host offset that hold it now. */
export async function placeFileHits(
  hits: readonly SearchHit[],
  extents: readonly Extent[],
  disk: Pick<BlockLayer, 'virtualSize'> & SearchTarget,
): Promise<FileHit[]> {
  const sorted = [...extents].sort((a, b) => a.logical - b.logical);
  const out: FileHit[] = [];
  for (const h of hits) {
    const guest = diskOffsetOf(sorted, h.offset);
    let layer = 0;
    let hostOffset: number | null = null;
    if (guest !== null && guest < disk.virtualSize) {
      const m = await disk.getMapping(guest);
      layer = m.depth;
      hostOffset = m.kind === 'data' && m.hostOffset !== undefined ? m.hostOffset + (guest - m.offset) : null;
    }
    out.push({ fileOffset: h.offset, guestOffset: guest, length: h.length, layer, hostOffset });
  }
  return out;
}
