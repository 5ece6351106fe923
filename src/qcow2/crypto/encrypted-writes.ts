/**
 * Guest writes to an encrypted image: ciphertext is written in whole 512-byte sectors (QEMU's request alignment
 * for encrypted images), so an unaligned write first reads the sectors at its edges. Such writes run one after
 * another in issue order: no later write may overtake one (or change its edge sectors) while it reads.
 */
import { SECTOR } from './sector-cipher';

/** What the device offers: guest reads, and the write path's submit calls (which also run the first-write gate). */
export interface SectorWriteTarget {
  readAt(buf: Uint8Array, offset: number): Promise<number>;
  submit(buf: Uint8Array, offset: number): Promise<void>;
  submitZeroes(offset: number, length: number): Promise<void>;
}

export class EncryptedWrites {
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly target: SectorWriteTarget) {}

  write(buf: Uint8Array, offset: number): Promise<void> {
    return this.inOrder(() => this.writeSectors(buf, offset));
  }

  /** Partial sectors are rewritten with (encrypted) zero bytes; whole sectors become zeros as in any image. */
  zero(offset: number, length: number): Promise<void> {
    return this.inOrder(async () => {
      const end = offset + length;
      const first = Math.min(end, Math.ceil(offset / SECTOR) * SECTOR);
      const last = Math.max(first, Math.floor(end / SECTOR) * SECTOR);
      if (first > offset) await this.writeSectors(new Uint8Array(first - offset), offset);
      if (last > first || length === 0) await this.target.submitZeroes(first, last - first);
      if (end > last) await this.writeSectors(new Uint8Array(end - last), last);
    });
  }

  private inOrder(fn: () => Promise<void>): Promise<void> {
    const run = this.queue.then(fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async writeSectors(buf: Uint8Array, offset: number): Promise<void> {
    if (offset % SECTOR === 0 && buf.length % SECTOR === 0) return this.target.submit(buf, offset);
    const start = offset - (offset % SECTOR);
    const end = Math.ceil((offset + buf.length) / SECTOR) * SECTOR;
    const out = new Uint8Array(end - start);
    await this.target.readAt(out.subarray(0, SECTOR), start);
    if (end - SECTOR > start) await this.target.readAt(out.subarray(out.length - SECTOR), end - SECTOR);
    out.set(buf, offset - start);
    await this.target.submit(out, start);
  }
}
