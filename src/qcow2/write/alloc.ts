/**
 * Host cluster allocation: reuse the lowest run of free clusters (refcount 0), else append at the end.
 * Clusters freed by a pending decrement keep their refcount until the flush that makes them free,
 * so they are never handed out while an on-disk table may still reference them.
 */
import { badImage } from '../errors';
import type { Refcounts } from './refcounts';

/**
 * How far past the end of the file refcounts may claim clusters before we call them damaged: allocations in flight
 * when QEMU (or we) crashed leave a few such clusters; a run of junk refcounts would make each new allocation land
 * that far out (a hostile refblock can push it gigabytes past a small file).
 */
const MAX_CLAIMED_PAST_END_BYTES = 8 * 1024 * 1024;
const MAX_CLAIMED_PAST_END_CLUSTERS = 64;

export class ClusterAllocator {
  /** No cluster at or after this index is in use, except those whose refcount says so (checked on use). */
  highWater: number;
  /** No free cluster below this index. */
  private freeHint = 0;

  constructor(
    private readonly rc: Refcounts,
    fileSize: number,
    private readonly path: string,
  ) {
    this.highWater = Math.ceil(fileSize / rc.cs);
  }

  /** Allocates n contiguous clusters with refcount 1; returns the first index. */
  async alloc(n: number): Promise<number> {
    const start = await this.findRun(n);
    // Move the mark first: refblocks created while counting these clusters go after them.
    this.highWater = Math.max(this.highWater, start + n);
    for (let i = 0; i < n; i++) await this.rc.add(start + i, 1);
    return start;
  }

  /** Reserves n free clusters at or after the high-water mark (for refcount structures). Refcounts stay 0. */
  async takeEnd(n: number): Promise<number> {
    const start = await this.freeRunFrom(this.highWater, n);
    this.highWater = start + n;
    return start;
  }

  /** A cluster's refcount dropped to 0. */
  noteFreed(c: number): void {
    if (c < this.freeHint) this.freeHint = c;
  }

  private async findRun(n: number): Promise<number> {
    let c = await this.rc.firstFree(this.freeHint, this.highWater);
    this.freeHint = c;
    while (c < this.highWater) {
      let end = c + 1;
      while (end < c + n && end < this.highWater && (await this.rc.get(end)) === 0) end++;
      if (end === c + n || end === this.highWater) return this.freeRunFrom(c, n);
      c = await this.rc.firstFree(end + 1, this.highWater);
    }
    return this.freeRunFrom(this.highWater, n);
  }

  /** First start >= from with n free clusters (past the high-water mark only refblocks that exist can say otherwise). */
  private async freeRunFrom(from: number, n: number): Promise<number> {
    const maxPastEnd = Math.max(MAX_CLAIMED_PAST_END_CLUSTERS, Math.floor(MAX_CLAIMED_PAST_END_BYTES / this.rc.cs));
    let start = from;
    for (let c = start; c < start + n; c++) {
      if ((await this.rc.get(c)) === 0) continue;
      start = c + 1;
      if (start - this.highWater > maxPastEnd) {
        throw badImage(
          this.path,
          `refcounts mark clusters up to 0x${(start * this.rc.cs).toString(16)} as used, far past the end of the written data at 0x${(this.highWater * this.rc.cs).toString(16)}; refusing to allocate there (repair the image with \`qemu-img check -r all\`)`,
        );
      }
    }
    return start;
  }
}
