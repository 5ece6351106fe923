/** Little-endian field readers for guest file-system structures (numbers, never BigInt). */
import { GuestFsError, type ReadOnlyDevice } from './types';

export function u16(b: Uint8Array, at: number): number {
  return b[at] | (b[at + 1] << 8);
}

export function u32(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16)) + b[at + 3] * 0x1000000;
}

export function i32(b: Uint8Array, at: number): number {
  return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24);
}

/** A 64-bit field; above 2^53 it loses precision, which callers bound-check anyway. */
export function u64(b: Uint8Array, at: number): number {
  return u32(b, at) + u32(b, at + 4) * 0x1_0000_0000;
}

/** Text up to the first NUL, as Latin-1-safe UTF-8 (guest text is untrusted; invalid bytes become U+FFFD). */
export function cString(b: Uint8Array, at: number, len: number): string {
  let end = at;
  while (end < at + len && b[end] !== 0) end++;
  return new TextDecoder().decode(b.subarray(at, end));
}

export function uuidString(b: Uint8Array, at: number): string {
  const h = Array.from(b.subarray(at, at + 16), (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Reads `length` bytes at `offset` of the device, refusing ranges outside it with a one-line reason. */
export async function readRange(dev: ReadOnlyDevice, offset: number, length: number, what: string): Promise<Uint8Array> {
  if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > dev.size) {
    throw new GuestFsError('bad-fs', `${what} at byte ${offset} (+${length}) is outside the device (${dev.size} bytes)`);
  }
  const buf = new Uint8Array(length);
  if (length) await dev.readAt(buf, offset);
  return buf;
}
