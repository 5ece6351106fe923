/**
 * The LUKS anti-forensic merge: the key material is the master key split into `stripes` blocks; merging XORs
 * them together, passing the running value through the hash's diffusion after each block but the last.
 * (No library offers this; it is a few lines over node:crypto hashes.)
 */
import { createHash } from 'node:crypto';

/** The diffusion: each digest-sized piece i becomes hash(be32(i) || piece), cut to the piece's length. */
function diffuse(block: Uint8Array, hash: string): void {
  const digestLen = createHash(hash).digest().length;
  const index = new Uint8Array(4);
  for (let i = 0, at = 0; at < block.length; i++, at += digestLen) {
    const piece = block.subarray(at, Math.min(block.length, at + digestLen));
    new DataView(index.buffer).setUint32(0, i);
    const d = createHash(hash).update(index).update(piece).digest();
    piece.set(d.subarray(0, piece.length));
  }
}

export function afMerge(material: Uint8Array, keyBytes: number, stripes: number, hash: string): Uint8Array {
  const out = new Uint8Array(keyBytes);
  for (let s = 0; s < stripes; s++) {
    const block = material.subarray(s * keyBytes, (s + 1) * keyBytes);
    for (let i = 0; i < keyBytes; i++) out[i] ^= block[i];
    if (s < stripes - 1) diffuse(out, hash);
  }
  return out;
}
