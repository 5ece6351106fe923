/**
 * AES-192-XTS, which QEMU creates but OpenSSL (and so node:crypto) lacks: the XTS mode (IEEE 1619) over
 * node:crypto's AES-192 in ECB. Only the mode is here, no cipher: T = AES(K2, iv), each 16-byte block j is
 * AES(K1, P xor T·α^j) xor T·α^j. Sectors are whole blocks, so no ciphertext stealing is needed.
 */
import { createCipheriv, createDecipheriv } from 'node:crypto';

const BLOCK = 16;

/** Multiplies the tweak by α in GF(2^128), little-endian as XTS orders it. */
function timesAlpha(t: Uint8Array): void {
  let carry = 0;
  for (let i = 0; i < BLOCK; i++) {
    const next = t[i] >>> 7;
    t[i] = ((t[i] << 1) | carry) & 0xff;
    carry = next;
  }
  if (carry) t[0] ^= 0x87;
}

export function xts192(key: Uint8Array, iv: Uint8Array, data: Uint8Array, encrypt: boolean): Uint8Array {
  const half = key.length / 2;
  const k1 = key.subarray(0, half);
  const k2 = key.subarray(half);
  const tweakCipher = createCipheriv('aes-192-ecb', k2, null).setAutoPadding(false);
  const t = new Uint8Array(tweakCipher.update(iv));
  const tweaks = new Uint8Array(data.length);
  const masked = new Uint8Array(data.length);
  for (let at = 0; at < data.length; at += BLOCK) {
    tweaks.set(t, at);
    for (let i = 0; i < BLOCK; i++) masked[at + i] = data[at + i] ^ t[i];
    timesAlpha(t);
  }
  const c = encrypt ? createCipheriv('aes-192-ecb', k1, null) : createDecipheriv('aes-192-ecb', k1, null);
  c.setAutoPadding(false);
  const out = new Uint8Array(c.update(masked));
  for (let i = 0; i < out.length; i++) out[i] ^= tweaks[i];
  return out;
}
