/**
 * Guest reads of one qcow2 image: block status run by run, data from the image or its external data file
 * (decrypted in an encrypted image), zeros, compressed clusters, and the backing chain for what this image does
 * not hold. It counts the reads in progress, which the write path asks before it frees a cluster (write/index.ts).
 */
import { badImage, Qcow2Error } from '../errors';
import type { Qcow2Header } from '../format/header';
import type { Qcow2Info } from '../format/info';
import type { FileEnd } from '../io/file-end';
import { readFully, type Qcow2IoOps } from '../io/ops';
import type { ImageCrypto } from '../crypto/image-crypto';
import { SECTOR } from '../crypto/sector-cipher';
import type { BlockLayer, LayerRun } from '../layer';
import type { CompressedClusterReader } from './compressed-reader';

/** What guest reads need of an image. The device implements it and owns every field (read at each call). */
export interface ReadableImage {
  readonly path: string;
  readonly info: Qcow2Info;
  readonly header: Readonly<Qcow2Header>;
  readonly io: Qcow2IoOps;
  readonly dataIo?: Qcow2IoOps;
  /** Why the external data file is not open, when it is not. */
  readonly dataFileError?: string;
  readonly crypto?: ImageCrypto;
  readonly backing?: BlockLayer;
  blockStatus(offset: number, maxLength: number): Promise<LayerRun>;
}

export class GuestReads {
  private active = 0;

  constructor(
    private readonly img: ReadableImage,
    private readonly fileEnd: FileEnd,
    private readonly compressed: CompressedClusterReader,
  ) {}

  /** Guest reads in progress. */
  get inProgress(): number {
    return this.active;
  }

  /** Reads guest bytes at `offset` (inside the virtual size, checked by the caller) into buf. */
  async read(buf: Uint8Array, offset: number): Promise<number> {
    const img = this.img;
    // While reads run, clusters released by writes are not freed (a read may still be using the old mapping).
    this.active++;
    try {
      let pos = 0;
      while (pos < buf.length) {
        const at = offset + pos;
        const run = await img.blockStatus(at, buf.length - pos);
        const dst = buf.subarray(pos, pos + run.length);
        if (run.kind === 'data') await this.host(dst, run.hostOffset!, at);
        else if (run.kind === 'zero') dst.fill(0);
        else if (run.kind === 'unallocated') await this.backing(dst, at);
        else if (img.header.cryptMethod !== 0) {
          // QEMU never writes compressed clusters into encrypted images; one found here is refused, not guessed at.
          throw badImage(img.path, `compressed cluster at guest offset 0x${at.toString(16)} in an encrypted image`);
        } else {
          const cluster = await this.compressed.read(run.compressed!);
          const inCluster = at % img.info.clusterSize;
          dst.set(cluster.subarray(inCluster, inCluster + dst.length));
        }
        pos += run.length;
      }
      return buf.length;
    } finally {
      this.active--;
    }
  }

  /** Reads guest data from the backing chain; past the backing file's end, zeros. */
  async backing(dst: Uint8Array, offset: number): Promise<void> {
    const back = this.img.backing;
    const n = back ? Math.max(0, Math.min(dst.length, back.virtualSize - offset)) : 0;
    if (n > 0) await back!.readAt(dst.subarray(0, n), offset);
    dst.fill(0, n);
  }

  /**
   * Reads allocated data from the image (or its external data file), decrypted in an encrypted image: the
   * enclosing 512-byte sectors are read and deciphered with their host (LUKS) or guest (legacy AES) sector
   * numbers. `guest` is the guest offset of dst[0], needed for legacy AES only.
   */
  async host(dst: Uint8Array, host: number, guest?: number): Promise<void> {
    const img = this.img;
    if (img.info.hasDataFile && !img.dataIo) {
      throw new Qcow2Error('backing', img.dataFileError ?? 'the external data file is not open', img.path);
    }
    const crypto = img.crypto;
    if (!crypto && img.header.cryptMethod !== 0) {
      const kind = img.header.cryptMethod === 1 ? 'AES' : 'LUKS';
      throw new Qcow2Error('unsupported', `image is encrypted (${kind}); guest data cannot be read without a passphrase`, img.path);
    }
    if (!crypto) return this.plain(dst, host);
    if (!crypto.physical && guest === undefined) throw new Qcow2Error('unsupported', 'legacy AES data read without its guest offset', img.path);
    const lead = host % SECTOR;
    const sectors = new Uint8Array(Math.ceil((lead + dst.length) / SECTOR) * SECTOR);
    await this.plain(sectors, host - lead);
    crypto.decrypt(sectors, (crypto.physical ? host : guest!) - lead);
    dst.set(sectors.subarray(lead, lead + dst.length));
  }

  private async plain(dst: Uint8Array, host: number): Promise<void> {
    const img = this.img;
    const io = img.dataIo ?? img.io;
    const n = await readFully(io, dst, host);
    if (n < dst.length) {
      // The write path may have allocated past the file's current end (extended at the next flush).
      if (io === img.io && host >= (await this.fileEnd.refresh())) {
        throw badImage(img.path, `data cluster at 0x${host.toString(16)} lies beyond the end of the file`);
      }
      dst.fill(0, n); // a short last cluster (or a sparse data file) reads as zeros, as in QEMU
    }
  }
}
