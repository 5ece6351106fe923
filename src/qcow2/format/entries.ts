/**
 * Decoding of L1, L2 and refcount-table entries from their two big-endian u32 words, without BigInt.
 * Bits 9..55 of an entry are hi[23:0] and lo[31:9].
 */
import { u32 } from './bytes';

const TWO_32 = 0x1_0000_0000;

export const L1E_OFFSET_MASK_HI = 0x00ffffff;
export const L1E_RESERVED_HI = 0x7f000000;
export const L1E_RESERVED_LO = 0x000001ff;
export const L2E_RESERVED_HI = 0x3f000000;
export const L2E_RESERVED_LO = 0x000001fe;
export const COPIED_HI = 0x80000000;
export const COMPRESSED_HI = 0x40000000;
export const ZERO_LO = 1;

export function entryOffset(hi: number, lo: number): number {
  return (hi & L1E_OFFSET_MASK_HI) * TWO_32 + ((lo & 0xfffffe00) >>> 0);
}

export function isCopied(hi: number): boolean {
  return (hi & COPIED_HI) !== 0;
}

export function isCompressed(hi: number): boolean {
  return (hi & COMPRESSED_HI) !== 0;
}

/** Reads the words of the 8-byte entry at byte offset `at`. */
export function entryWords(table: Uint8Array, at: number): [number, number] {
  return [u32(table, at), u32(table, at + 4)];
}

/** Where a compressed cluster's bytes are: host byte offset and length on disk. */
export interface CompressedRange {
  offset: number;
  length: number;
}

/** Decodes a compressed L2 descriptor (bit 62 set). Returns null if the offset does not fit in 2^53. */
export function compressedRange(hi: number, lo: number, clusterBits: number): CompressedRange | null {
  const x = 62 - (clusterBits - 8); // first bit of the sector count; between 49 and 61
  const hiOffsetBits = x - 32;
  const offHi = hi & ((1 << hiOffsetBits) - 1);
  if (offHi > 0x1fffff) return null;
  const offset = offHi * TWO_32 + lo;
  const sectors = ((hi & 0x3fffffff) >>> hiOffsetBits) + 1;
  return { offset, length: sectors * 512 - (offset & 511) };
}

/** Builds the words of a compressed descriptor. */
export function compressedWords(offset: number, length: number, clusterBits: number): [number, number] {
  const x = 62 - (clusterBits - 8);
  const hiOffsetBits = x - 32;
  const sectors = Math.ceil(((offset & 511) + length) / 512) - 1;
  const hi = (COMPRESSED_HI | (sectors << hiOffsetBits) | Math.floor(offset / TWO_32)) >>> 0;
  return [hi, offset >>> 0];
}

/** Words of a standard entry with the given offset and flags. */
export function standardWords(offset: number, copied: boolean, zero = false): [number, number] {
  const hi = ((copied ? COPIED_HI : 0) | Math.floor(offset / TWO_32)) >>> 0;
  const lo = ((offset >>> 0) | (zero ? ZERO_LO : 0)) >>> 0;
  return [hi, lo];
}

/** Refcount-table entries use bits 9..63 for the refblock offset; bits above 52 must be clear for us. */
export function reftableOffset(hi: number, lo: number): number | null {
  if (hi > 0x1fffff) return null;
  return hi * TWO_32 + ((lo & 0xfffffe00) >>> 0);
}

/**
 * Where a run of standard (8-byte) L2 entries that starts at index `from` stops (at most `end`). Entries continue
 * the run when they are not compressed, have the zero flag `zeroFlag` (0 or 1; v2 images pass `zeroMask` 0), and
 * hold host offsets `host`, `host + step`, … where `host` is a multiple of `step`, a power of two (`step` 0 keeps
 * the offset fixed, e.g. at 0 for entries without a host cluster). COPIED and reserved bits are ignored, as block
 * status ignores them. A map walks millions of entries, so this compares masked int32 words instead of decoding
 * each entry. (It returns the index, not a length: an expression after the loop would lack type feedback when V8
 * optimizes the loop mid-call, and deopt.)
 */
export function standardRunEnd(table: Uint8Array, from: number, end: number, host: number, step: number, zeroFlag: number, zeroMask: number): number {
  // Callers compute these with Math.ceil and division, which V8 keeps as doubles: int32 makes the loop integer-only.
  from |= 0;
  end |= 0;
  step |= 0;
  const view = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const hiMask = COMPRESSED_HI | L1E_OFFSET_MASK_HI;
  const loMask = 0xfffffe00 | zeroMask; // int32 (negative): compared with int32 words from getInt32
  let hi = Math.floor(host / TWO_32);
  let lo = (host - hi * TWO_32) | zeroFlag | 0;
  const carry = step === 0 ? 0 : 1;
  let i = from;
  for (let at = from * 8; i < end; i++, at += 8) {
    if ((view.getInt32(at) & hiMask) !== hi) break;
    if ((view.getInt32(at + 4) & loMask) !== lo) break;
    lo = (lo + step) | 0;
    if ((lo & ~1) === 0) hi += carry; // the offset's low word wrapped past 2^32
  }
  return i;
}
