/**
 * Sector-wise AES as dm-crypt, LUKS and QEMU use it: every 512-byte sector is enciphered on its own with an IV
 * made from its sector number (plain: 32-bit little-endian, plain64: 64-bit, essiv: the 64-bit number encrypted
 * with AES keyed by a hash of the master key). AES is node:crypto's; XTS and CBC decryption run over many sectors
 * per native call (sector-batch.ts), CBC encryption per sector with node's aes-*-cbc.
 */
import { createCipheriv, createHash } from 'node:crypto';
import type { LuksHash, LuksIvgen, LuksMode } from './luks-header';
import { aesEcb, cbcDecryptSectors, xtsSectors } from './sector-batch';

export const SECTOR = 512;
const TWO_32 = 0x1_0000_0000;

export class SectorCipher {
  private readonly essivKey?: Uint8Array;

  constructor(
    readonly mode: LuksMode,
    private readonly key: Uint8Array,
    readonly ivgen: LuksIvgen,
    ivHash?: LuksHash,
  ) {
    if (ivgen === 'essiv') {
      // QEMU keys the ESSIV cipher with hash(master key); AES must exist at the digest's size (sha256 only).
      this.essivKey = createHash(ivHash ?? 'sha256')
        .update(key)
        .digest();
    }
  }

  /** e.g. aes-256-xts-plain64. */
  get description(): string {
    return `aes-${(this.mode === 'xts' ? this.key.length / 2 : this.key.length) * 8}-${this.mode}-${this.ivgen}`;
  }

  /** The IVs of `count` sectors from `first`, 16 bytes each. */
  private ivs(first: number, count: number): Uint8Array {
    const ivs = new Uint8Array(count * 16);
    const view = new DataView(ivs.buffer);
    for (let i = 0; i < count; i++) {
      const sector = first + i;
      view.setUint32(i * 16, sector % TWO_32, true);
      if (this.ivgen !== 'plain') view.setUint32(i * 16 + 4, Math.floor(sector / TWO_32), true);
    }
    return this.essivKey ? aesEcb(this.essivKey, ivs, true) : ivs;
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
    if (buf.length === 0) return;
    const ivs = this.ivs(firstSector, buf.length / SECTOR);
    if (this.mode === 'xts') buf.set(xtsSectors(this.key, ivs, buf, encrypt));
    else if (!encrypt) buf.set(cbcDecryptSectors(this.key, ivs, buf));
    else {
      const alg = `aes-${this.key.length * 8}-cbc`;
      for (let at = 0; at < buf.length; at += SECTOR) {
        const c = createCipheriv(alg, this.key, ivs.subarray((at / SECTOR) * 16, (at / SECTOR) * 16 + 16)).setAutoPadding(false);
        const sector = buf.subarray(at, at + SECTOR);
        sector.set(c.update(sector));
        c.final();
      }
    }
  }
}
