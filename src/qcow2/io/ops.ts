/**
 * The engine's view of a file: positional reads and writes, sync and size.
 * Implementations: NodeFileIo (real files) and MemIo (tests, fault injection).
 */
export interface Qcow2IoOps {
  /** Used in error messages. */
  readonly path: string;
  readonly readOnly: boolean;
  /** Reads up to buf.length bytes at offset; returns the number read (short only at end of file). */
  readAt(buf: Uint8Array, offset: number): Promise<number>;
  /** Optional: the same read, done on the calling thread (for small metadata reads of local files). */
  readAtSync?(buf: Uint8Array, offset: number): number;
  /** Writes all of buf at offset, extending the file when needed. */
  writeAt(buf: Uint8Array, offset: number): Promise<void>;
  /** Makes every completed write durable. */
  fsync(): Promise<void>;
  size(): Promise<number>;
  truncate?(size: number): Promise<void>;
  /** Optional: deallocates a range, which then reads as zeros. */
  punchHole?(offset: number, length: number): Promise<void>;
  close(): Promise<void>;
}

/** readFully through readAtSync; the io must have it. */
export function readFullySync(io: Qcow2IoOps, buf: Uint8Array, offset: number): number {
  let done = 0;
  while (done < buf.length) {
    const n = io.readAtSync!(buf.subarray(done), offset + done);
    if (n <= 0) break;
    done += n;
  }
  return done;
}

/** Reads exactly buf.length bytes, or fewer only at end of file; loops over short reads. */
export async function readFully(io: Qcow2IoOps, buf: Uint8Array, offset: number): Promise<number> {
  let done = 0;
  while (done < buf.length) {
    const n = await io.readAt(buf.subarray(done), offset + done);
    if (n <= 0) break;
    done += n;
  }
  return done;
}
