import type { BlockLayer, LayerRun } from './layer';
import { readFully, type Qcow2IoOps } from './io/ops';
import { Qcow2Error } from './errors';

/** A raw file used as a backing layer: guest offset = file offset. */
export class RawDev implements BlockLayer {
  readonly format = 'raw' as const;
  readonly backing = undefined;

  private constructor(
    readonly io: Qcow2IoOps,
    readonly virtualSize: number,
  ) {}

  get path(): string {
    return this.io.path;
  }

  /** Like QEMU, the size counts whole 512-byte sectors: a partial last sector reads as zeros past the end. */
  static async open(io: Qcow2IoOps): Promise<RawDev> {
    return new RawDev(io, Math.ceil((await io.size()) / 512) * 512);
  }

  async readAt(buf: Uint8Array, offset: number): Promise<number> {
    if (offset < 0 || offset + buf.length > this.virtualSize) {
      throw new Qcow2Error('range', `read of ${buf.length} bytes at ${offset} is beyond the virtual size ${this.virtualSize}`, this.path);
    }
    const n = await readFully(this.io, buf, offset);
    buf.fill(0, n); // the file may have shrunk since open
    return buf.length;
  }

  async blockStatus(offset: number, maxLength: number): Promise<LayerRun> {
    return { kind: 'data', length: Math.min(maxLength, this.virtualSize - offset), hostOffset: offset };
  }

  async close(): Promise<void> {
    await this.io.close();
  }
}
