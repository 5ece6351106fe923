/**
 * One pass of a matcher over a guest byte range, streamed along the chain's block-status runs.
 *
 * - Ranges that read as zeros (zero clusters, unallocated with nothing below) are never read. When the pattern
 *   cannot occur in zeros, only their first and last `keep` bytes take part (matches that straddle the edge);
 *   when it can, zeros are fed from one shared zero buffer and the hit limit ends the scan soon enough.
 * - Everything else is read through the device's readAt (so compressed clusters are decompressed and backing
 *   layers followed) in windows of up to WINDOW bytes, a few in flight while the main thread scans.
 * - The last `keep` bytes of each window are carried into the next, so matches across cluster, run and layer
 *   boundaries are found, and found once. Memory: (IN_FLIGHT + 1) windows plus a zero window, whatever the disk.
 * - At least every YIELD_MS (or YIELD_PIECES pieces) the scan lets the event loop run: reads served from memory
 *   (compressed clusters decoded from one read-ahead, zeros) never leave it, and a cancel or any other message
 *   would wait for the end of the search. The signal is checked before any new read starts, so a cancel costs at
 *   most the reads already in flight.
 */
import type { Mapping } from '../qcow2';
import type { Matcher } from './matchers';

/** What a search runs on: a qcow2 device (or anything with the same reads and mapping). */
export interface SearchTarget {
  readonly virtualSize: number;
  readAt(buf: Uint8Array, offset: number): Promise<number>;
  getMapping(offset: number): Promise<Mapping>;
}

export const WINDOW = 4 * 1024 * 1024;
export const IN_FLIGHT = 3;
/**
 * The longest the scan keeps the event loop to itself (a cancel arrives as an event), in ms and in pieces. A yield
 * costs microseconds; 8 ms keeps a cancel's wait well under a frame or two even when everything comes from memory.
 */
const YIELD_MS = 8;
const YIELD_PIECES = 8;
/** Zero ranges up to this size are simply fed as zeros (cheaper than special-casing them). */
const SMALL_ZERO = 64 * 1024;

export type ScanEnd = 'done' | 'stopped' | 'cancelled';

interface Piece {
  start: number;
  end: number;
  zero: boolean;
  buf?: Buffer;
  read?: Promise<unknown>;
}

export interface RangeScanHooks {
  /** A match at guest offset `offset`; return false to stop. */
  onMatch(offset: number, length: number): boolean;
  /** After each piece: bytes of the range covered so far. May await (hits are resolved there). */
  afterPiece?(covered: number): Promise<void> | void;
  signal?: AbortSignal;
}

/** Scans guest bytes [start, end) and reports matches starting in [start, acceptEnd). */
export class RangeScan {
  private readonly pool: Buffer[] = [];
  private zeroBuf?: Buffer;
  private readonly carry: Buffer;
  private carryLen = 0;
  /** Guest offset where a variable-length matcher resumes (after the last match it reported). */
  private resume = 0;

  constructor(
    private readonly target: SearchTarget,
    private readonly matcher: Matcher,
    private readonly window = WINDOW,
  ) {
    this.carry = Buffer.alloc(matcher.keep);
  }

  async run(start: number, end: number, acceptEnd: number, hooks: RangeScanHooks): Promise<ScanEnd> {
    this.carryLen = 0;
    this.resume = start;
    const pieces = this.pieces(start, end);
    const queue: Piece[] = [];
    let exhausted = false;
    let result: ScanEnd = 'done';
    let lastYield = performance.now();
    let sinceYield = 0;
    try {
      for (;;) {
        if (++sinceYield > YIELD_PIECES || performance.now() - lastYield > YIELD_MS) {
          await new Promise((r) => setImmediate(r));
          lastYield = performance.now();
          sinceYield = 0;
        }
        if (hooks.signal?.aborted) return (result = 'cancelled');
        while (!exhausted && queue.filter((p) => !p.zero).length < IN_FLIGHT && queue.length < 64) {
          const next = await pieces.next();
          if (next.done) exhausted = true;
          else queue.push(this.startRead(next.value));
        }
        const piece = queue.shift();
        if (!piece) break;
        if (hooks.signal?.aborted) return (result = 'cancelled');
        const go = piece.zero ? await this.feedZeros(piece, acceptEnd, hooks) : await this.feedData(piece, acceptEnd, hooks);
        if (go !== 'done') return (result = go);
        await hooks.afterPiece?.(piece.end - start);
      }
      // Starts left in the carry (a variable-length match may end at the range's end).
      if (this.carryLen > 0 && !this.feed(this.carry.subarray(0, this.carryLen), end - this.carryLen, acceptEnd, true, hooks)) return (result = 'stopped');
      return result;
    } finally {
      // Never leave a read running into a buffer after returning (and never an unhandled rejection).
      await Promise.allSettled(queue.map((p) => p.read));
      if (result !== 'done') await pieces.return(undefined);
    }
  }

  /** Runs of data or of zeros, from the chain's mapping; data runs split at the window size. */
  private async *pieces(start: number, end: number): AsyncGenerator<Piece> {
    let cur: Piece | undefined;
    for (let pos = start; pos < end;) {
      const m = await this.target.getMapping(pos);
      const runEnd = Math.min(end, pos + m.length);
      const zero = m.kind === 'zero' || m.kind === 'unallocated';
      if (cur && cur.zero === zero && cur.end === pos) cur.end = runEnd;
      else {
        if (cur) yield cur;
        cur = { start: pos, end: runEnd, zero };
      }
      while (!cur.zero && cur.end - cur.start >= this.window) {
        yield { start: cur.start, end: cur.start + this.window, zero: false };
        cur = { start: cur.start + this.window, end: cur.end, zero: false };
      }
      pos = runEnd;
    }
    if (cur && cur.end > cur.start) yield cur;
  }

  private startRead(piece: Piece): Piece {
    if (piece.zero) return piece;
    const keep = this.matcher.keep;
    piece.buf = this.pool.pop() ?? Buffer.allocUnsafeSlow(keep + this.window);
    piece.read = this.target.readAt(piece.buf.subarray(keep, keep + piece.end - piece.start), piece.start);
    piece.read.catch(() => undefined); // awaited in order by feedData
    return piece;
  }

  private async feedData(piece: Piece, acceptEnd: number, hooks: RangeScanHooks): Promise<ScanEnd> {
    await piece.read;
    const buf = piece.buf!;
    try {
      return this.feedWindow(buf, piece.start, piece.end - piece.start, acceptEnd, hooks) ? 'done' : 'stopped';
    } finally {
      this.pool.push(buf);
    }
  }

  private async feedZeros(piece: Piece, acceptEnd: number, hooks: RangeScanHooks): Promise<ScanEnd> {
    const keep = this.matcher.keep;
    const length = piece.end - piece.start;
    const zeros = (this.zeroBuf ??= Buffer.alloc(keep + this.window));
    if (this.matcher.matchesZeros || length <= 2 * keep + SMALL_ZERO) {
      for (let pos = piece.start; pos < piece.end; pos += this.window) {
        if (hooks.signal?.aborted) return 'cancelled';
        const n = Math.min(this.window, piece.end - pos);
        // The window's front holds the carry; the rest stays zero since nothing else writes there.
        if (!this.feedWindow(zeros, pos, n, acceptEnd, hooks)) return 'stopped';
        if (pos >= acceptEnd) break;
      }
      return 'done';
    }
    // The pattern cannot occur inside zeros: only the edges matter.
    if (keep > 0 && !this.feedWindow(zeros, piece.start, keep, acceptEnd, hooks)) return 'stopped';
    zeros.fill(0, 0, keep);
    this.carry.fill(0);
    this.carryLen = keep;
    this.resume = Math.max(this.resume, piece.end - keep);
    return 'done';
  }

  /** Scans carry + buf[keep, keep + n) (guest bytes from `offset`); keeps the new carry. False when stopped. */
  private feedWindow(buf: Buffer, offset: number, n: number, acceptEnd: number, hooks: RangeScanHooks): boolean {
    const keep = this.matcher.keep;
    const carryLen = this.carryLen;
    this.carry.copy(buf, keep - carryLen, 0, carryLen);
    const view = buf.subarray(keep - carryLen, keep + n);
    const ok = this.feed(view, offset - carryLen, acceptEnd, false, hooks);
    const next = Math.min(keep, view.length);
    view.copy(this.carry, 0, view.length - next);
    this.carryLen = next;
    return ok;
  }

  private feed(view: Buffer, base: number, acceptEnd: number, final: boolean, hooks: RangeScanHooks): boolean {
    const from = Math.max(0, this.resume - base);
    const resume = this.matcher.scan(view, from, acceptEnd - base, final, (at, len) => hooks.onMatch(base + at, len));
    if (resume < 0) return false;
    this.resume = base + resume;
    return true;
  }
}
