/**
 * Read-only devices for the guest-FS readers: the whole guest disk over the engine's readAt, and byte ranges of
 * it (partitions). They hold only a read function, so nothing a reader does can reach a write path.
 */
import { GuestFsError, type ReadOnlyDevice } from './types';

/** Anything that reads guest bytes: a Qcow2Dev, RawDev or any BlockLayer. */
export interface GuestReader {
  readonly virtualSize: number;
  readAt(buf: Uint8Array, offset: number): Promise<unknown>;
}

class RangeDevice implements ReadOnlyDevice {
  constructor(
    private readonly readFn: (buf: Uint8Array, offset: number) => Promise<unknown>,
    readonly diskOffset: number,
    readonly size: number,
  ) {}

  async readAt(buf: Uint8Array, offset: number): Promise<void> {
    if (!(Number.isSafeInteger(offset) && offset >= 0 && offset + buf.length <= this.size)) {
      throw new GuestFsError('bad-fs', `read of ${buf.length} bytes at ${offset} is outside the ${this.size}-byte device`);
    }
    await this.readFn(buf, this.diskOffset + offset);
  }
}

/** The whole guest disk. */
export function diskDevice(disk: GuestReader): ReadOnlyDevice {
  return new RangeDevice((buf, off) => disk.readAt(buf, off), 0, disk.virtualSize);
}

/** Bytes [start, start + length) of a contiguous device (a partition of the disk). */
export function subDevice(dev: ReadOnlyDevice, start: number, length: number): ReadOnlyDevice {
  if (!(start >= 0 && length >= 0 && start + length <= dev.size)) {
    throw new GuestFsError('bad-fs', `range ${start} +${length} is outside the ${dev.size}-byte device`);
  }
  if (dev.toDiskOffset) throw new GuestFsError('unsupported', 'a range of a non-contiguous device');
  return new RangeDevice((buf, off) => dev.readAt(buf, off - dev.diskOffset), dev.diskOffset + start, length);
}

/** A device over an in-memory buffer (tests, the fuzz target). */
export function bufferDevice(bytes: Uint8Array): ReadOnlyDevice {
  return new RangeDevice(async (buf, off) => buf.set(bytes.subarray(off, off + buf.length)), 0, bytes.length);
}
