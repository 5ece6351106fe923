/**
 * Adding the bitmaps header extension (and autoclear bit 0) to a header cluster, crash-safely. The result is laid
 * out as QEMU's qcow2_update_header lays out an image qemu-img made: the new record where the end marker was (after
 * the feature table), the end marker after it, the backing file name right after that, zeros behind.
 *
 * A power cut must leave the header without the bitmaps extension or with all of it, never torn, and the backing
 * file name readable throughout. Disks promise at most that one 512-byte sector is written whole, so the switch is
 * one write inside the sector holding the old end marker (the record's first bytes replace it); everything the new
 * layout needs past that sector is written first where the old layout uses nothing. In order, each write synced:
 *   1. when the new layout covers the backing name: a copy of the name in a spare place, then the name pointer
 *      (first sector) switched to it;
 *   2. when the switch is not in the first sector: autoclear bit 0 set (without a bitmaps extension it says nothing);
 *   3. the new layout past the switch sector (the record's tail, the end marker, the name at its final place);
 *   4. the switch: the switch sector's part of the new layout (with the first sector: the bit and the name pointer);
 *   5. the name pointer to the final place, when step 4 did not do it; 6. zeros over the spare copy and old bytes.
 */
import { setU32, setU64, u32 } from '../format/bytes';
import { AUTOCLEAR_BITMAPS } from '../format/header';
import { EXT_BITMAPS, EXT_END } from '../format/header-extensions';
import { Qcow2Error } from '../errors';

const SECTOR = 512;
const RECORD_BYTES = 32; // type, length, then nb_bitmaps, reserved, directory size, directory offset
const HEADER_BACKING_OFFSET = 8;
const HEADER_AUTOCLEAR_LO = 92;

export interface HeaderWrite {
  offset: number;
  bytes: Uint8Array;
}

export interface BitmapsHeaderPlan {
  writes: HeaderWrite[];
  /** The header cluster once done. */
  final: Uint8Array;
  /** Where the backing file name is once done (0 without one). */
  backingFileOffset: number;
}

const pad8 = (n: number): number => Math.ceil(n / 8) * 8;

/**
 * Walks the header extensions from `headerLength`: where the end marker is, and where the first bitmaps extension
 * before it starts (-1 for either when absent).
 */
function walkExtensions(cluster: Uint8Array, headerLength: number): { endAt: number; bitmapsAt: number } {
  let bitmapsAt = -1;
  for (let off = headerLength; off + 8 <= cluster.length; off += 8 + pad8(u32(cluster, off + 4))) {
    const type = u32(cluster, off);
    if (type === EXT_END) return { endAt: off, bitmapsAt };
    if (type === EXT_BITMAPS && bitmapsAt < 0) bitmapsAt = off;
  }
  return { endAt: -1, bitmapsAt };
}

/** Plans the writes that add a bitmaps extension naming the directory to `cluster` (the header cluster as on disk). */
export function planBitmapsExtension(
  cluster: Uint8Array,
  headerLength: number,
  nbBitmaps: number,
  dirSize: number,
  dirOffset: number,
  file: string,
): BitmapsHeaderPlan {
  const cs = cluster.length;
  const fail = (why: string) => new Qcow2Error('unsupported', `cannot add the bitmaps header extension: ${why}`, file);
  const { endAt, bitmapsAt } = walkExtensions(cluster, headerLength);
  if (bitmapsAt >= 0) throw fail('the image already has one');
  if (endAt < 0) throw fail('the header extensions have no end marker');
  const nameOff = u32(cluster, HEADER_BACKING_OFFSET) === 0 ? u32(cluster, HEADER_BACKING_OFFSET + 4) : -1;
  const nameLen = u32(cluster, 16);
  if (nameLen > 0 && (nameOff < 0 || nameOff + nameLen > cs)) throw fail('the backing file name lies outside the header cluster');
  const name = cluster.slice(nameOff, nameOff + nameLen);
  const extEnd = endAt + RECORD_BYTES + 8;
  const newNameAt = nameLen ? extEnd : 0;
  if (extEnd + nameLen > cs) throw fail(`it does not fit in the header cluster (${cs} bytes)`);

  // The final layout.
  const oldUsedEnd = Math.max(endAt + 8, nameLen ? nameOff + nameLen : 0);
  const final = cluster.slice();
  setU32(final, endAt, EXT_BITMAPS);
  setU32(final, endAt + 4, RECORD_BYTES - 8);
  setU32(final, endAt + 8, nbBitmaps);
  setU32(final, endAt + 12, 0);
  setU64(final, endAt + 16, dirSize);
  setU64(final, endAt + 24, dirOffset);
  final.fill(0, endAt + RECORD_BYTES, Math.max(oldUsedEnd, extEnd + nameLen));
  final.set(name, extEnd);
  if (nameLen) setU32(final, HEADER_BACKING_OFFSET + 4, newNameAt);
  setU32(final, HEADER_AUTOCLEAR_LO, (u32(final, HEADER_AUTOCLEAR_LO) | AUTOCLEAR_BITMAPS) >>> 0);

  const state = cluster.slice();
  const writes: HeaderWrite[] = [];
  const put = (offset: number, bytes: Uint8Array): void => {
    if (bytes.length === 0 || bytes.every((b, i) => state[offset + i] === b)) return;
    state.set(bytes, offset);
    writes.push({ offset, bytes: bytes.slice() });
  };
  const pointer = (at: number): Uint8Array => {
    const b = state.slice(HEADER_BACKING_OFFSET + 4, HEADER_BACKING_OFFSET + 8);
    setU32(b, 0, at);
    return b;
  };
  const newEnd = extEnd + nameLen;
  let spareEnd = 0;
  // 1. The name out of the way of the new layout.
  if (nameLen && nameOff < newEnd && nameOff + nameLen > endAt) {
    const spare = pad8(Math.max(oldUsedEnd, newEnd));
    if (spare + nameLen > cs) throw fail(`there is no room in the header cluster to move the backing file name safely`);
    put(spare, name);
    put(HEADER_BACKING_OFFSET + 4, pointer(spare));
    spareEnd = spare + nameLen;
  }
  const flip = Math.floor(endAt / SECTOR);
  // 2. Autoclear bit 0 ahead of the switch, when the switch is not in the first sector.
  if (flip > 0) put(HEADER_AUTOCLEAR_LO, final.slice(HEADER_AUTOCLEAR_LO, HEADER_AUTOCLEAR_LO + 4));
  // 3. Past the switch sector: bytes the current layout does not use.
  const after = Math.max(endAt, (flip + 1) * SECTOR);
  if (after < newEnd) put(after, final.slice(after, newEnd));
  // 4. The switch, inside one sector.
  const flipEnd = Math.min(newEnd, (flip + 1) * SECTOR, cs);
  if (flip === 0) put(0, final.slice(0, flipEnd));
  else put(endAt, final.slice(endAt, flipEnd));
  // 5. The name pointer, 6. zeros behind the new layout.
  put(HEADER_BACKING_OFFSET + 4, final.slice(HEADER_BACKING_OFFSET + 4, HEADER_BACKING_OFFSET + 8));
  const zeroTo = Math.max(oldUsedEnd, spareEnd);
  if (zeroTo > newEnd) put(newEnd, final.slice(newEnd, zeroTo));
  for (let i = 0; i < cs; i++) if (state[i] !== final[i]) throw new Error(`internal error: bitmaps header plan differs from the final header at byte ${i}`);
  return { writes, final, backingFileOffset: newNameAt };
}

/**
 * Points an existing bitmaps extension at a new directory: its 24 data bytes are rewritten in place, in one write
 * that must stay inside one sector (else refused: it could tear). Autoclear bit 0 must already be set (without it
 * the existing bitmaps are inconsistent, and QEMU would drop them).
 */
export function planBitmapsUpdate(
  cluster: Uint8Array,
  headerLength: number,
  nbBitmaps: number,
  dirSize: number,
  dirOffset: number,
  file: string,
): BitmapsHeaderPlan {
  const fail = (why: string) => new Qcow2Error('unsupported', `cannot update the bitmaps header extension: ${why}`, file);
  if ((u32(cluster, HEADER_AUTOCLEAR_LO) & AUTOCLEAR_BITMAPS) === 0)
    throw fail('autoclear bit 0 is clear, so the existing bitmaps are inconsistent (qemu-img would drop them)');
  const { bitmapsAt } = walkExtensions(cluster, headerLength);
  if (bitmapsAt < 0) throw fail('it is missing');
  const at = bitmapsAt + 8;
  if (Math.floor(at / SECTOR) !== Math.floor((at + 23) / SECTOR)) throw fail('it crosses a sector boundary, so it cannot be changed crash-safely');
  const data = new Uint8Array(24);
  setU32(data, 0, nbBitmaps);
  setU64(data, 8, dirSize);
  setU64(data, 16, dirOffset);
  const final = cluster.slice();
  final.set(data, at);
  return { writes: [{ offset: at, bytes: data }], final, backingFileOffset: u32(cluster, HEADER_BACKING_OFFSET + 4) };
}
