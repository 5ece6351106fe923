/**
 * A linear logical volume as a ReadOnlyDevice: its segments, in order, each a run of extents on one PV. Reads that
 * cross a segment boundary are split; guest-disk offsets jump between segments (toDiskOffset).
 */
import { GuestFsError, type ReadOnlyDevice } from '../types';

export interface LvSegment {
  /** Byte offset of the segment within the LV. */
  start: number;
  length: number;
  pv: ReadOnlyDevice;
  /** Byte offset on the PV. */
  pvOffset: number;
}

export class LvDevice implements ReadOnlyDevice {
  readonly size: number;
  readonly diskOffset: number;
  readonly toDiskOffset?: (deviceOffset: number) => number;

  constructor(private readonly segments: LvSegment[]) {
    if (!segments.length) throw new GuestFsError('bad-fs', 'LV has no segments');
    const last = segments[segments.length - 1];
    this.size = last.start + last.length;
    this.diskOffset = segments[0].pv.diskOffset + segments[0].pvOffset;
    const contiguous = segments.every((s) => !s.pv.toDiskOffset && s.pv.diskOffset + s.pvOffset === this.diskOffset + s.start);
    if (!contiguous) this.toDiskOffset = (o) => this.diskOffsetOf(o);
  }

  private segmentAt(offset: number): LvSegment {
    let lo = 0;
    let hi = this.segments.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segments[mid].start <= offset) lo = mid;
      else hi = mid - 1;
    }
    return this.segments[lo];
  }

  private diskOffsetOf(offset: number): number {
    const s = this.segmentAt(offset);
    const pvOff = s.pvOffset + (offset - s.start);
    return s.pv.toDiskOffset ? s.pv.toDiskOffset(pvOff) : s.pv.diskOffset + pvOff;
  }

  /** The LV offset of a guest-disk offset, or undefined when no segment lies there. */
  fromDiskOffset(diskOffset: number): number | undefined {
    for (const s of this.segments) {
      if (s.pv.toDiskOffset) continue;
      const at = diskOffset - (s.pv.diskOffset + s.pvOffset);
      if (at >= 0 && at < s.length) return s.start + at;
    }
    return undefined;
  }

  async readAt(buf: Uint8Array, offset: number): Promise<void> {
    if (!(Number.isSafeInteger(offset) && offset >= 0 && offset + buf.length <= this.size)) {
      throw new GuestFsError('bad-fs', `read of ${buf.length} bytes at ${offset} is outside the ${this.size}-byte logical volume`);
    }
    let done = 0;
    while (done < buf.length) {
      const s = this.segmentAt(offset + done);
      const within = offset + done - s.start;
      const n = Math.min(buf.length - done, s.length - within);
      await s.pv.readAt(buf.subarray(done, done + n), s.pvOffset + within);
      done += n;
    }
  }
}
