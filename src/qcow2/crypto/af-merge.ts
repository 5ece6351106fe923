/**
 * The LUKS anti-forensic merge: the key material is the master key split into `stripes` blocks; merging XORs
 * them together, passing the running value through the hash's diffusion after each block but the last. The split
 * is its inverse: `stripes - 1` random blocks, the last chosen so that the merge gives the master key.
 * (No library offers this; it is a few lines over node:crypto hashes.)
 */
import { createHash, randomFillSync } from 'node:crypto';

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

/** The anti-forensic split of `key` into `stripes` blocks (random but for the last), as LUKS1's AF_split. */
export function afSplit(key: Uint8Array, stripes: number, hash: string): Uint8Array {
  const n = key.length;
  const out = new Uint8Array(n * stripes);
  randomFillSync(out.subarray(0, n * (stripes - 1)));
  const acc = new Uint8Array(n);
  for (let s = 0; s < stripes - 1; s++) {
    const block = out.subarray(s * n, (s + 1) * n);
    for (let i = 0; i < n; i++) acc[i] ^= block[i];
    diffuse(acc, hash);
  }
  const last = out.subarray((stripes - 1) * n);
  for (let i = 0; i < n; i++) last[i] = acc[i] ^ key[i];
  return out;
}
