/** How the fuzz target opens an input: in memory only, read-only guarded, never touching the real file system. */
import { Qcow2Error } from '../../src/qcow2/errors';
import { MemIo } from '../../src/qcow2/io/memory';
import { openImage } from '../../src/qcow2/open';
import type { Qcow2Dev } from '../../src/qcow2/qcow2-dev';
import type { Qcow2IoOps } from '../../src/qcow2/io/ops';
import { FuzzFinding } from './finding';

export const FUZZ_PATH = '/fuzz/image.qcow2';

/** An in-memory file that reports any attempt to change it: the image is opened read-only. */
export class ReadOnlyGuardIo extends MemIo {
  constructor(bytes: Uint8Array, path: string) {
    super(bytes, path, true);
  }
  override async writeAt(buf: Uint8Array, offset: number): Promise<void> {
    throw new FuzzFinding(`write of ${buf.length} bytes at ${offset} to a file opened read-only`);
  }
  override async truncate(size: number): Promise<void> {
    throw new FuzzFinding(`truncate to ${size} of a file opened read-only`);
  }
}

/** A writable in-memory copy whose growth is bounded: the engine must not extend a small image by gigabytes. */
export class BoundedMemIo extends MemIo {
  constructor(
    bytes: Uint8Array,
    path: string,
    private readonly maxSize: number,
  ) {
    super(bytes, path, false);
  }
  override async writeAt(buf: Uint8Array, offset: number): Promise<void> {
    if (offset + buf.length > this.maxSize) throw new FuzzFinding(`write of ${buf.length} bytes at ${offset} grows the file beyond ${this.maxSize} bytes`);
    return super.writeAt(buf, offset);
  }
  override async truncate(size: number): Promise<void> {
    if (size > this.maxSize) throw new FuzzFinding(`truncate to ${size} grows the file beyond ${this.maxSize} bytes`);
    return super.truncate(size);
  }
}

/** Opens an in-memory file as an image with every other path missing. */
export async function openFuzzIo(io: Qcow2IoOps, writable: boolean): Promise<Qcow2Dev> {
  return openImage(io.path, {
    readOnly: !writable,
    l2CacheSlices: 16,
    refblockCacheSlices: 16,
    openIo: async (path) => {
      if (path === io.path) return io;
      throw new Qcow2Error('io', 'ENOENT: no such file or directory', path);
    },
  });
}

export async function openFuzzImage(bytes: Uint8Array): Promise<{ dev: Qcow2Dev; io: Qcow2IoOps }> {
  const io = new ReadOnlyGuardIo(bytes, FUZZ_PATH);
  return { dev: await openFuzzIo(io, false), io };
}
