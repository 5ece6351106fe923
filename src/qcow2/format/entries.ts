/**
 * Decoding of L1, L2 and refcount-table entries from their two big-endian u32 words, without BigInt.
 * Bits 9..55 of an entry are hi[23:0] and lo[31:9].
 */
import { u32 } from './bytes';
import { badImage, type Qcow2Error } from '../errors';

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

/** What an L2 entry decoder needs of the image's geometry (Qcow2Info has it all). */
export interface L2Geometry {
  version: 2 | 3;
  clusterBits: number;
  clusterSize: number;
  subclusterSize: number;
  extendedL2: boolean;
  hasDataFile: boolean;
}

/** The state of one (sub)cluster, as an L2 entry records it. */
export type SubState = 'data' | 'zero' | 'unalloc';

/**
 * One L2 entry, decoded once for everyone who reads entries: block status (read), write planning and the in-place
 * fast path. Decoding never throws: an entry that cannot be valid carries `problem`, and each caller decides
 * whether that is an error (read, plan) or just a reason to take the slow path (in place).
 */
export interface L2Entry {
  hi: number;
  lo: number;
  copied: boolean;
  /** Where a compressed cluster's bytes are; null for standard entries (and for a compressed offset out of range, with `problem`). */
  compressed: CompressedRange | null;
  isCompressed: boolean;
  /** Host offset of the cluster (standard entries; 0 when none). */
  host: number;
  /** The cluster has a host cluster (with an external data file, COPIED alone says the guest offset is allocated). */
  allocated: boolean;
  /** Extended L2 bitmaps; 0 without extended L2. */
  zeroBits: number;
  allocBits: number;
  /** Why the entry cannot be valid (completes "L2 entry for guest offset … "), or undefined. */
  problem?: string;
}

/** Decodes the L2 entry at byte `at` of `table` (8 or 16 bytes, per `g.extendedL2`). */
export function decodeL2Entry(table: Uint8Array, at: number, g: L2Geometry): L2Entry {
  const hi = u32(table, at);
  const lo = u32(table, at + 4);
  const zeroBits = g.extendedL2 ? u32(table, at + 8) : 0;
  const allocBits = g.extendedL2 ? u32(table, at + 12) : 0;
  const copied = (hi & COPIED_HI) !== 0;
  if (hi & COMPRESSED_HI) {
    const compressed = compressedRange(hi, lo, g.clusterBits);
    const e: L2Entry = { hi, lo, copied, compressed, isCompressed: true, host: 0, allocated: false, zeroBits, allocBits };
    if (!compressed) e.problem = 'compressed data offset is out of range';
    return e;
  }
  const host = entryOffset(hi, lo);
  const allocated = host !== 0 || (g.hasDataFile && copied);
  const e: L2Entry = { hi, lo, copied, compressed: null, isCompressed: false, host, allocated, zeroBits, allocBits };
  if (allocated && host % g.clusterSize !== 0) e.problem = `points to unaligned host offset 0x${host.toString(16)}`;
  return e;
}

/**
 * The state of subcluster `sub` (0 without extended L2) of a standard entry, or null when the entry's bitmaps
 * contradict themselves for it (subclusterProblem says how).
 */
export function subclusterState(e: L2Entry, sub: number, g: L2Geometry): SubState | null {
  if (!g.extendedL2) {
    if (e.lo & ZERO_LO && g.version >= 3) return 'zero';
    return e.allocated ? 'data' : 'unalloc';
  }
  const bit = (1 << sub) >>> 0;
  if (e.zeroBits & e.allocBits & bit) return null;
  if (e.allocBits & bit) return e.allocated ? 'data' : null;
  return e.zeroBits & bit ? 'zero' : 'unalloc';
}

/** Why subclusterState returned null for `sub`. */
export function subclusterProblem(e: L2Entry, sub: number): string {
  const bit = (1 << sub) >>> 0;
  if (e.zeroBits & e.allocBits & bit) return `subcluster ${sub} is marked both allocated and zero`;
  return `subcluster ${sub} is allocated but the cluster has no host offset`;
}

/** The subclusters [from, to) of a cluster as an allocation-bitmap mask (to - from may be 32). */
export function subclusterMask(from: number, to: number): number {
  return to - from === 32 ? 0xffffffff : ((((1 << (to - from)) >>> 0) - 1) << from) >>> 0;
}

/** "L2 entry for guest offset … (L1 i, L2 j) <what>": the one wording of a bad L2 entry, for read and write. */
/** An external data file holds guest cluster N at offset N: the words for an entry pointing elsewhere. */
export function dataFileMismatch(host: number, guest: number): string {
  return `points to data file offset 0x${host.toString(16)}, but an external data file holds each cluster at its guest offset (0x${guest.toString(16)})`;
}

export function l2EntryError(path: string, g: { l1EntrySpan: number; clusterSize: number }, l1Index: number, l2Index: number, what: string): Qcow2Error {
  const guest = l1Index * g.l1EntrySpan + l2Index * g.clusterSize;
  return badImage(path, `L2 entry for guest offset 0x${guest.toString(16)} (L1 ${l1Index}, L2 ${l2Index}) ${what}`);
}

/** The first L2 table offset in an L1 table whose cluster does not lie wholly inside the file, if any. */
export function firstL2PastEnd(l1: Uint8Array, clusterSize: number, fileSize: number): number | undefined {
  for (let at = 0; at + 8 <= l1.length; at += 8) {
    const off = entryOffset(u32(l1, at), u32(l1, at + 4));
    if (off !== 0 && off + clusterSize > fileSize) return off;
  }
  return undefined;
}
