/**
 * Sector-wise AES as dm-crypt, LUKS and QEMU use it: every 512-byte sector is enciphered on its own with an IV
 * made from its sector number (plain: 32-bit little-endian, plain64: 64-bit, essiv: the 64-bit number encrypted
 * with AES keyed by a hash of the master key). The ciphers are node:crypto's (aes-*-xts, aes-*-cbc, aes-*-ecb).
 */
import { createCipheriv, createDecipheriv, createHash } from 'node:crypto';
import type { LuksHash, LuksIvgen, LuksMode } from './luks-header';
import { xts192 } from './xts192';

export const SECTOR = 512;

export class SectorCipher {
  private readonly algorithm: string;
  private readonly essivKey?: Uint8Array;
  private readonly iv = new Uint8Array(16);

  constructor(
    readonly mode: LuksMode,
    private readonly key: Uint8Array,
    readonly ivgen: LuksIvgen,
    ivHash?: LuksHash,
  ) {
    const aesBits = (mode === 'xts' ? key.length / 2 : key.length) * 8;
    this.algorithm = `aes-${aesBits}-${mode}`;
    if (ivgen === 'essiv') {
      // QEMU keys the ESSIV cipher with hash(master key); AES must exist at the digest's size (sha256 only).
      this.essivKey = createHash(ivHash ?? 'sha256')
        .update(key)
        .digest();
    }
  }

  /** e.g. aes-256-xts-plain64. */
  get description(): string {
    return `${this.algorithm}-${this.ivgen}`;
  }

  private ivFor(sector: number): Uint8Array {
    const iv = this.iv;
    iv.fill(0);
    const lo = sector % 0x1_0000_0000;
    const view = new DataView(iv.buffer);
    view.setUint32(0, lo, true);
    if (this.ivgen !== 'plain') view.setUint32(4, Math.floor(sector / 0x1_0000_0000), true);
    if (!this.essivKey) return iv;
    const ecb = createCipheriv(`aes-${this.essivKey.length * 8}-ecb`, this.essivKey, null).setAutoPadding(false);
    return new Uint8Array(Buffer.concat([ecb.update(iv), ecb.final()]));
  }

  /** Decrypts whole sectors in place; `firstSector` is the number of the sector at buf[0]. */
  decrypt(buf: Uint8Array, firstSector: number): void {
    this.run(buf, firstSector, false);
  }

  /** Encrypts whole sectors in place. */
  encrypt(buf: Uint8Array, firstSector: number): void {
    this.run(buf, firstSector, true);
  }

  private run(buf: Uint8Array, firstSector: number, encrypt: boolean): void {
    if (buf.length % SECTOR !== 0) throw new RangeError(`encrypted I/O must be whole 512-byte sectors (got ${buf.length} bytes)`);
    for (let at = 0, s = firstSector; at < buf.length; at += SECTOR, s++) {
      const iv = this.ivFor(s);
      const sector = buf.subarray(at, at + SECTOR);
      if (this.algorithm === 'aes-192-xts') {
        sector.set(xts192(this.key, iv, sector, encrypt));
        continue;
      }
      const c = encrypt ? createCipheriv(this.algorithm, this.key, iv) : createDecipheriv(this.algorithm, this.key, iv);
      c.setAutoPadding(false);
      const out = c.update(sector);
      c.final();
      sector.set(out);
    }
  }
}
