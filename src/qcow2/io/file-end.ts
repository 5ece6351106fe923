/**
 * The image file's size as last seen. Writes past the end move it forward (noted, not read back); a read or a
 * metadata load that would fall past it first refreshes it from the file, which another writer may have grown.
 */
import type { Qcow2IoOps } from './ops';

export class FileEnd {
  private seen = 0;

  constructor(private readonly io: Qcow2IoOps) {}

  get size(): number {
    return this.seen;
  }

  /** Bytes up to `end` have been written (or will be, by the next flush). */
  note(end: number): void {
    if (end > this.seen) this.seen = end;
  }

  /** Re-reads the size; it only grows (a write in progress may have allocated past the file's end). */
  async refresh(): Promise<number> {
    this.note(await this.io.size());
    return this.seen;
  }

  /** Forgets what was noted and takes the file's size as it is now (when the tables are (re)loaded). */
  async reset(): Promise<number> {
    this.seen = await this.io.size();
    return this.seen;
  }
}
