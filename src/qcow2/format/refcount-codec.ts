/**
 * Reading and writing one refcount in a refcount block of 1..64-bit entries.
 * Sub-byte widths are packed LSB-first within each byte; wider ones are big-endian.
 * 64-bit refcounts above 2^53 are reported as Infinity (callers treat that as overflow).
 */
const TWO_32 = 0x1_0000_0000;

export function getRefcount(block: Uint8Array, index: number, bits: number): number {
  switch (bits) {
    case 1:
    case 2:
    case 4: {
      const perByte = 8 / bits;
      const shift = (index % perByte) * bits;
      return (block[Math.floor(index / perByte)] >>> shift) & ((1 << bits) - 1);
    }
    case 8:
      return block[index];
    case 16:
      return (block[index * 2] << 8) | block[index * 2 + 1];
    case 32: {
      const o = index * 4;
      return ((block[o] << 24) >>> 0) + (block[o + 1] << 16) + (block[o + 2] << 8) + block[o + 3];
    }
    case 64: {
      const o = index * 8;
      const hi = ((block[o] << 24) >>> 0) + (block[o + 1] << 16) + (block[o + 2] << 8) + block[o + 3];
      const lo = ((block[o + 4] << 24) >>> 0) + (block[o + 5] << 16) + (block[o + 6] << 8) + block[o + 7];
      return hi > 0x1fffff ? Infinity : hi * TWO_32 + lo;
    }
    default:
      throw new RangeError(`bad refcount width ${bits}`);
  }
}

/**
 * Adds `delta` (+1 or -1) to a 64-bit refcount byte by byte, so it stays exact above 2^53 (QEMU accepts any
 * value up to 2^64 - 1, iotest 112). Returns the new value as getRefcount reads it, or undefined when it would
 * wrap past 2^64 - 1 or below 0 (the entry is then unchanged).
 */
export function stepRefcount64(block: Uint8Array, index: number, delta: 1 | -1): number | undefined {
  const o = index * 8;
  const edge = delta > 0 ? 0xff : 0;
  let atEdge = true;
  for (let i = 0; i < 8 && atEdge; i++) atEdge = block[o + i] === edge;
  if (atEdge) return undefined;
  for (let i = 7; i >= 0; i--) {
    const b = block[o + i] + delta;
    block[o + i] = b & 0xff;
    if (b >= 0 && b <= 0xff) break; // no carry or borrow left
  }
  return getRefcount(block, index, 64);
}

/** Largest refcount a width can hold, capped at 2^53 - 1. */
export function maxRefcount(bits: number): number {
  return bits >= 53 ? Number.MAX_SAFE_INTEGER : 2 ** bits - 1;
}

export function setRefcount(block: Uint8Array, index: number, bits: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0 || value > maxRefcount(bits)) {
    throw new RangeError(`refcount ${value} does not fit in ${bits} bits`);
  }
  switch (bits) {
    case 1:
    case 2:
    case 4: {
      const perByte = 8 / bits;
      const shift = (index % perByte) * bits;
      const mask = ((1 << bits) - 1) << shift;
      const at = Math.floor(index / perByte);
      block[at] = (block[at] & ~mask) | (value << shift);
      return;
    }
    case 8:
      block[index] = value;
      return;
    case 16:
      block[index * 2] = value >>> 8;
      block[index * 2 + 1] = value & 0xff;
      return;
    case 32: {
      const o = index * 4;
      block[o] = value >>> 24;
      block[o + 1] = (value >>> 16) & 0xff;
      block[o + 2] = (value >>> 8) & 0xff;
      block[o + 3] = value & 0xff;
      return;
    }
    case 64: {
      const o = index * 8;
      const hi = Math.floor(value / TWO_32);
      const lo = value >>> 0;
      for (let i = 0; i < 4; i++) {
        block[o + i] = (hi >>> (24 - 8 * i)) & 0xff;
        block[o + 4 + i] = (lo >>> (24 - 8 * i)) & 0xff;
      }
      return;
    }
    default:
      throw new RangeError(`bad refcount width ${bits}`);
  }
}
