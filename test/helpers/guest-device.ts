/**
 * Test adapters from an image to the guest-FS readers' ReadOnlyDevice: a qcow2 image read through the engine
 * (openImage, read-only), a raw file, and an in-memory buffer. Each exposes a slice (a partition at an offset).
 */
import { openSync, readSync, closeSync, fstatSync } from 'node:fs';
import { openImage } from '../../src/qcow2/index';
import type { ReadOnlyDevice } from '../../src/guestfs/types';

export interface TestDevice {
  dev: ReadOnlyDevice;
  close(): Promise<void>;
}

function slice(size: number, offset: number, length: number | undefined, readAt: (buf: Uint8Array, at: number) => Promise<void>): ReadOnlyDevice {
  const devSize = length ?? size - offset;
  return {
    size: devSize,
    diskOffset: offset,
    async readAt(buf, at) {
      if (at < 0 || at + buf.length > devSize) throw new RangeError(`read of ${buf.length} at ${at} is past the ${devSize}-byte device`);
      await readAt(buf, offset + at);
    },
  };
}

/** A qcow2 image (its whole virtual disk, or a slice of it) through the engine. */
export async function qcow2Device(path: string, offset = 0, length?: number): Promise<TestDevice> {
  const img = await openImage(path, { readOnly: true });
  return {
    dev: slice(img.virtualSize, offset, length, async (buf, at) => void (await img.readAt(buf, at))),
    close: () => img.close(),
  };
}

/** A raw image file (synchronous reads: a test helper, not product code). */
export function rawDevice(path: string, offset = 0, length?: number): TestDevice {
  const fd = openSync(path, 'r');
  const size = fstatSync(fd).size;
  return {
    dev: slice(size, offset, length, async (buf, at) => {
      let done = 0;
      while (done < buf.length) {
        const n = readSync(fd, buf, done, buf.length - done, at + done);
        if (n <= 0) throw new RangeError(`short read at ${at + done}`);
        done += n;
      }
    }),
    close: async () => closeSync(fd),
  };
}

/** Bytes in memory (malformed fixtures patched in place). */
export function memDevice(bytes: Uint8Array, offset = 0, length?: number): ReadOnlyDevice {
  return slice(bytes.length, offset, length, async (buf, at) => buf.set(bytes.subarray(at, at + buf.length)));
}
