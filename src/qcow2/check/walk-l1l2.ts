/**
 * Reading metadata for the check in big coalesced reads: L2 tables (and refcount blocks) sorted by host
 * offset and fetched a few MiB at a time. Reads past the end of the file return zeros, as QEMU's file driver does.
 */
import { Qcow2Error } from '../errors';
import type { Qcow2IoOps } from '../io/ops';

/** Longest single read. */
const MAX_SPAN = 4 * 1024 * 1024;
/** Gap between wanted regions that is cheaper to read through than to skip. */
const MAX_GAP = 256 * 1024;
/** Coalesced reads kept in flight (about 16 MiB at most). */
const READS_IN_FLIGHT = 4;

/** Reads `length` bytes at `offset`; whatever lies past the end of the file reads as zeros. */
export async function readZeroFilled(io: Qcow2IoOps, offset: number, length: number, into?: Uint8Array): Promise<Uint8Array> {
  const buf = into ? into.subarray(0, length) : new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = await io.readAt(buf.subarray(done), offset + done);
    if (n <= 0) break;
    done += n;
  }
  if (into && done < length) buf.fill(0, done);
  return buf;
}

export interface Region<T> {
  offset: number;
  length: number;
  tag: T;
}

export interface WalkOptions {
  signal?: AbortSignal;
  /** Called after each coalesced read with the number of regions handed out so far. */
  onRegions?: (done: number) => void;
}

export function throwIfAborted(signal: AbortSignal | undefined, file: string): void {
  if (signal?.aborted) throw new Qcow2Error('cancelled', 'check cancelled', file);
}

/**
 * Hands every region's bytes to `visit`, reading them sorted by offset in coalesced chunks.
 * Regions may overlap or repeat; each is visited once with its own view.
 */
export async function forEachRegion<T>(
  io: Qcow2IoOps,
  regions: Region<T>[],
  visit: (bytes: Uint8Array, region: Region<T>) => void | Promise<void>,
  opts: WalkOptions = {},
): Promise<void> {
  const sorted = regions.slice().sort((a, b) => a.offset - b.offset);
  // Plan the coalesced reads first, then keep a few in flight: scattered tables (one L2 table every
  // 512 MiB in a preallocated image) are many small reads, and the thread pool can overlap them.
  const chunks: { start: number; end: number; first: number; last: number }[] = [];
  for (let i = 0; i < sorted.length;) {
    const start = sorted[i].offset;
    let end = start + sorted[i].length;
    let j = i + 1;
    while (j < sorted.length) {
      const r = sorted[j];
      const rEnd = r.offset + r.length;
      if (r.offset - end > MAX_GAP || Math.max(end, rEnd) - start > MAX_SPAN) break;
      end = Math.max(end, rEnd);
      j++;
    }
    chunks.push({ start, end, first: i, last: j });
    i = j;
  }
  const pending: Promise<Uint8Array>[] = [];
  // Buffers are reused once visited: fresh ones would cost a page fault per 4 KiB on every read.
  const spare: Uint8Array[] = [];
  const fetch = (c: number): void => {
    if (c < chunks.length && pending[c] === undefined) {
      const len = chunks[c].end - chunks[c].start;
      let buf = spare.pop();
      if (!buf || buf.length < len) buf = new Uint8Array(Math.max(len, Math.min(MAX_SPAN, 1 << 20)));
      pending[c] = readZeroFilled(io, chunks[c].start, len, buf);
      pending[c].catch(() => undefined); // awaited below; avoid an unhandled rejection meanwhile
    }
  };
  for (let c = 0; c < chunks.length; c++) {
    throwIfAborted(opts.signal, io.path);
    for (let k = c; k < c + READS_IN_FLIGHT; k++) fetch(k);
    const chunk = await pending[c];
    delete pending[c];
    const { start, first, last } = chunks[c];
    for (let k = first; k < last; k++) {
      const r = sorted[k];
      const done = visit(chunk.subarray(r.offset - start, r.offset - start + r.length), r);
      if (done) await done;
    }
    opts.onRegions?.(last);
    spare.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.buffer.byteLength - chunk.byteOffset));
  }
}
