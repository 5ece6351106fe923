/** Big-endian field access without BigInt. 64-bit values are returned as numbers, range-checked to 2^53. */

const TWO_32 = 0x1_0000_0000;

export function u32(b: Uint8Array, off: number): number {
  return ((b[off] << 24) >>> 0) + (b[off + 1] << 16) + (b[off + 2] << 8) + b[off + 3];
}

export function u16(b: Uint8Array, off: number): number {
  return (b[off] << 8) | b[off + 1];
}

/** Reads a u64; returns null when it does not fit in 2^53 (callers turn that into a clear error). */
export function u64OrNull(b: Uint8Array, off: number): number | null {
  const hi = u32(b, off);
  if (hi > 0x1fffff) return null;
  return hi * TWO_32 + u32(b, off + 4);
}

export function setU16(b: Uint8Array, off: number, v: number): void {
  b[off] = (v >>> 8) & 0xff;
  b[off + 1] = v & 0xff;
}

export function setU32(b: Uint8Array, off: number, v: number): void {
  b[off] = v >>> 24;
  b[off + 1] = (v >>> 16) & 0xff;
  b[off + 2] = (v >>> 8) & 0xff;
  b[off + 3] = v & 0xff;
}

/** Writes a u64 from a number; the value must be a non-negative safe integer. */
export function setU64(b: Uint8Array, off: number, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new RangeError(`u64 out of range: ${v}`);
  setU32(b, off, Math.floor(v / TWO_32));
  setU32(b, off + 4, v >>> 0);
}

export function isAligned(v: number, alignment: number): boolean {
  return v % alignment === 0;
}

export function alignUp(v: number, alignment: number): number {
  return Math.ceil(v / alignment) * alignment;
}

export function alignDown(v: number, alignment: number): number {
  return Math.floor(v / alignment) * alignment;
}
