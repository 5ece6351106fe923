import type { Qcow2IoOps } from './ops';
import { Qcow2Error } from '../errors';

/** An in-memory file, for tests and fault injection. Grows on write. */
export class MemIo implements Qcow2IoOps {
  private data: Uint8Array;
  private length: number;

  constructor(
    initial: Uint8Array = new Uint8Array(0),
    readonly path = 'memory',
    readonly readOnly = false,
  ) {
    this.data = new Uint8Array(Math.max(initial.length, 4096));
    this.data.set(initial);
    this.length = initial.length;
  }

  /** A copy of the current contents. */
  bytes(): Uint8Array {
    return this.data.slice(0, this.length);
  }

  async readAt(buf: Uint8Array, offset: number): Promise<number> {
    if (offset >= this.length) return 0;
    const n = Math.min(buf.length, this.length - offset);
    buf.set(this.data.subarray(offset, offset + n));
    return n;
  }

  async writeAt(buf: Uint8Array, offset: number): Promise<void> {
    if (this.readOnly) throw new Qcow2Error('read-only', 'file is open read-only', this.path);
    const end = offset + buf.length;
    if (end > this.data.length) {
      const grown = new Uint8Array(Math.max(end, this.data.length * 2));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    this.data.set(buf, offset);
    this.length = Math.max(this.length, end);
  }

  async fsync(): Promise<void> {}

  async size(): Promise<number> {
    return this.length;
  }

  async truncate(size: number): Promise<void> {
    if (size < this.length) this.data.fill(0, size, this.length);
    else if (size > this.data.length) {
      const grown = new Uint8Array(size);
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    this.length = size;
  }

  async close(): Promise<void> {}
}
