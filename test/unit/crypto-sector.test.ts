/**
 * The batched sector modes (src/qcow2/crypto/sector-batch.ts) against node:crypto's own aes-*-xts and aes-*-cbc,
 * one cipher object per sector: byte-identical both ways for every IV generator and key size node offers.
 */
import { strict as assert } from 'node:assert';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { SectorCipher } from '../../src/qcow2/crypto/sector-cipher';

function referenceIv(sector: number, ivgen: string, key: Uint8Array): Buffer {
  const iv = Buffer.alloc(16);
  iv.writeUInt32LE(sector % 2 ** 32, 0);
  if (ivgen !== 'plain') iv.writeUInt32LE(Math.floor(sector / 2 ** 32), 4);
  if (ivgen !== 'essiv') return iv;
  const salt = createHash('sha256').update(key).digest();
  return createCipheriv('aes-256-ecb', salt, null).setAutoPadding(false).update(iv);
}

function reference(mode: string, key: Uint8Array, ivgen: string, data: Uint8Array, first: number, encrypt: boolean): Buffer {
  const bits = (mode === 'xts' ? key.length / 2 : key.length) * 8;
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += 512) {
    const iv = referenceIv(first + at / 512, ivgen, key);
    const c = encrypt ? createCipheriv(`aes-${bits}-${mode}`, key, iv) : createDecipheriv(`aes-${bits}-${mode}`, key, iv);
    c.setAutoPadding(false);
    out.push(c.update(data.subarray(at, at + 512)), c.final());
  }
  return Buffer.concat(out);
}

describe('crypto: batched sector modes equal node:crypto per sector', () => {
  for (const [mode, keyLen] of [
    ['xts', 32],
    ['xts', 64],
    ['cbc', 16],
    ['cbc', 24],
    ['cbc', 32],
  ] as const) {
    for (const ivgen of ['plain', 'plain64', 'essiv'] as const) {
      it(`aes-${(mode === 'xts' ? keyLen / 2 : keyLen) * 8}-${mode}-${ivgen}`, () => {
        const key = randomBytes(keyLen);
        const data = randomBytes(512 * 9);
        // Sector numbers past 2^32 show plain's truncation and plain64's high word.
        for (const first of [0, 7, 2 ** 32 - 3]) {
          const c = new SectorCipher(mode, key, ivgen, ivgen === 'essiv' ? 'sha256' : undefined);
          const enc = Buffer.from(data);
          c.encrypt(enc, first);
          assert.ok(enc.equals(reference(mode, key, ivgen, data, first, true)), `encrypt from sector ${first}`);
          const dec = Buffer.from(enc);
          c.decrypt(dec, first);
          assert.ok(dec.equals(data), `round trip from sector ${first}`);
          // An unaligned view (a subarray at an odd offset) gives the same bytes.
          const odd = new Uint8Array(enc.length + 1).subarray(1);
          odd.set(enc);
          c.decrypt(odd, first);
          assert.ok(Buffer.from(odd).equals(data));
        }
      });
    }
  }
});
