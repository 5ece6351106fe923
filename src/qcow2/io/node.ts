import { open, type FileHandle } from 'node:fs/promises';
import { constants, readSync, writeSync } from 'node:fs';
import type { Qcow2IoOps } from './ops';
import { asQcow2Error, Qcow2Error } from '../errors';

/**
 * Requests up to this size go straight to pread/pwrite on the calling thread: for a local file that takes
 * microseconds, while a trip through libuv's thread pool costs ~20 us and caps queue depth at 4 threads.
 * Larger requests stay asynchronous so a big read never stalls the extension host.
 */
const SYNC_IO_MAX = 64 * 1024;

/** Qcow2IoOps over a real file, through a Node FileHandle. */
export class NodeFileIo implements Qcow2IoOps {
  private constructor(
    readonly path: string,
    readonly readOnly: boolean,
    private readonly fh: FileHandle,
  ) {}

  static async open(path: string, readOnly: boolean): Promise<NodeFileIo> {
    try {
      const fh = await open(path, readOnly ? constants.O_RDONLY : constants.O_RDWR);
      const st = await fh.stat();
      if (!st.isFile() && !st.isBlockDevice()) {
        await fh.close();
        throw new Qcow2Error('invalid-argument', st.isDirectory() ? 'is a directory' : 'not a regular file', path);
      }
      return new NodeFileIo(path, readOnly, fh);
    } catch (err) {
      throw asQcow2Error(err, path);
    }
  }

  /** Creates (or truncates) a file for writing. */
  static async create(path: string): Promise<NodeFileIo> {
    try {
      return new NodeFileIo(path, false, await open(path, 'w+'));
    } catch (err) {
      throw asQcow2Error(err, path);
    }
  }

  async readAt(buf: Uint8Array, offset: number): Promise<number> {
    try {
      if (buf.length <= SYNC_IO_MAX) return readSync(this.fh.fd, buf, 0, buf.length, offset);
      const { bytesRead } = await this.fh.read(buf, 0, buf.length, offset);
      return bytesRead;
    } catch (err) {
      throw asQcow2Error(err, this.path);
    }
  }

  readAtSync(buf: Uint8Array, offset: number): number {
    try {
      return readSync(this.fh.fd, buf, 0, buf.length, offset);
    } catch (err) {
      throw asQcow2Error(err, this.path);
    }
  }

  async writeAt(buf: Uint8Array, offset: number): Promise<void> {
    if (this.readOnly) throw new Qcow2Error('read-only', 'file is open read-only', this.path);
    try {
      let done = 0;
      while (done < buf.length) {
        const n =
          buf.length <= SYNC_IO_MAX
            ? writeSync(this.fh.fd, buf, done, buf.length - done, offset + done)
            : (await this.fh.write(buf, done, buf.length - done, offset + done)).bytesWritten;
        done += n;
      }
    } catch (err) {
      throw asQcow2Error(err, this.path);
    }
  }

  async fsync(): Promise<void> {
    if (this.readOnly) return;
    try {
      await this.fh.datasync();
    } catch (err) {
      throw asQcow2Error(err, this.path);
    }
  }

  async size(): Promise<number> {
    try {
      return (await this.fh.stat()).size;
    } catch (err) {
      throw asQcow2Error(err, this.path);
    }
  }

  /** The OS file descriptor (for the optional hole-detection addon, holes.ts). */
  get fd(): number {
    return this.fh.fd;
  }

  /** Bytes the file really occupies on disk (qemu-img's actual-size). */
  async allocatedSize(): Promise<number> {
    const st = await this.fh.stat();
    return st.blocks * 512;
  }

  async truncate(size: number): Promise<void> {
    if (this.readOnly) throw new Qcow2Error('read-only', 'file is open read-only', this.path);
    try {
      await this.fh.truncate(size);
    } catch (err) {
      throw asQcow2Error(err, this.path);
    }
  }

  async close(): Promise<void> {
    await this.fh.close().catch(() => undefined);
  }
}
