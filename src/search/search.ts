/**
 * Searching the guest disk: forwards or backwards from an origin, within a scope, up to a hit limit,
 * cancellable. Each hit says which layer of the chain holds its first byte, and where on the host it is.
 */
import { Qcow2Error, type Mapping } from '../qcow2';
import { makeMatcher } from './matchers';
import type { CompiledPattern } from './pattern';
import { RangeScan, type SearchTarget } from './range-scan';

export interface SearchHit {
  /** Guest byte offset of the match. */
  offset: number;
  length: number;
  /** Depth in the backing chain of the layer holding the first byte (0 = the image itself). */
  layer: number;
  /** Host offset of the first byte in that layer's file (or data file), when it is stored uncompressed. */
  hostOffset: number | null;
}

export interface SearchOptions {
  /** Scope [start, end) in guest bytes; default the whole disk. */
  start?: number;
  end?: number;
  direction?: 'forward' | 'backward';
  /** Forward: hits at or after it; backward: hits starting before it. Default: the scope's start / end. */
  origin?: number;
  /** Stop after this many hits (default DEFAULT_HIT_LIMIT). */
  limit?: number;
  signal?: AbortSignal;
  /** Bytes of the scope covered so far, and the scope's size (backward: counted from the origin down). */
  onProgress?(done: number, total: number): void;
  /** Each hit as soon as it is resolved, in search order. */
  onHit?(hit: SearchHit): void;
  /** Read window (tests use small ones to cross many windows). */
  windowBytes?: number;
}

export interface SearchResult {
  hits: SearchHit[];
  /** True when the search stopped at `limit`: there may be more. */
  limitReached: boolean;
  cancelled: boolean;
}

export const DEFAULT_HIT_LIMIT = 10_000;
export const MAX_HIT_LIMIT = 1_000_000;
/** A backward search scans regions this big first, doubling while they hold no hit. */
const BACKWARD_REGION = 64 * 1024 * 1024;
const MAX_BACKWARD_REGION = 2 ** 40;

export async function searchDisk(target: SearchTarget, pattern: CompiledPattern, opts: SearchOptions = {}): Promise<SearchResult> {
  const start = opts.start ?? 0;
  const end = opts.end ?? target.virtualSize;
  const limit = opts.limit ?? DEFAULT_HIT_LIMIT;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end > target.virtualSize || start > end) {
    throw new Qcow2Error('range', `search range ${start}-${end} is outside the disk (0-${target.virtualSize})`);
  }
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_HIT_LIMIT)
    throw new Qcow2Error('invalid-argument', `the hit limit must be 1 to ${MAX_HIT_LIMIT}`);
  const search = new Search(target, pattern, opts, limit);
  if (opts.direction === 'backward') await search.backward(start, Math.min(end, Math.max(start, opts.origin ?? end)), end);
  else await search.forward(Math.max(start, Math.min(end, opts.origin ?? start)), end);
  return { hits: search.hits, limitReached: search.hits.length >= limit && !search.cancelled, cancelled: search.cancelled };
}

class Search {
  readonly hits: SearchHit[] = [];
  cancelled = false;
  private readonly scan: RangeScan;
  private readonly keep: number;
  private lastMapping?: Mapping;

  constructor(
    private readonly target: SearchTarget,
    pattern: CompiledPattern,
    private readonly opts: SearchOptions,
    private readonly limit: number,
  ) {
    const matcher = makeMatcher(pattern);
    this.keep = matcher.keep;
    this.scan = new RangeScan(target, matcher, opts.windowBytes);
  }

  async forward(from: number, end: number): Promise<void> {
    let batch: { offset: number; length: number }[] = [];
    const total = end - from;
    const outcome = await this.scan.run(from, end, end, {
      signal: this.opts.signal,
      onMatch: (offset, length) => {
        batch.push({ offset, length });
        return this.hits.length + batch.length < this.limit;
      },
      afterPiece: async (covered) => {
        await this.resolve(batch);
        batch = [];
        this.opts.onProgress?.(covered, total);
      },
    });
    await this.resolve(batch);
    this.cancelled = outcome === 'cancelled';
    if (outcome !== 'cancelled') this.opts.onProgress?.(total, total);
  }

  /** Regions going down from `origin`; in each, the last hits (as many as may still be reported), newest first. */
  async backward(start: number, origin: number, scopeEnd: number): Promise<void> {
    let region = BACKWARD_REGION;
    const total = origin - start;
    for (let top = origin; top > start && this.hits.length < this.limit;) {
      const bottom = Math.max(start, top - region);
      const room = this.limit - this.hits.length;
      const found: { offset: number; length: number }[] = [];
      const outcome = await this.scan.run(bottom, Math.min(scopeEnd, top + this.keep), top, {
        signal: this.opts.signal,
        onMatch: (offset, length) => {
          found.push({ offset, length });
          if (found.length > 2 * room) found.splice(0, found.length - room); // keep only the last `room`
          return true;
        },
      });
      if (outcome === 'cancelled') {
        this.cancelled = true;
        return;
      }
      await this.resolve(found.slice(-room).reverse());
      this.opts.onProgress?.(origin - bottom, total);
      if (found.length === 0) region = Math.min(region * 2, MAX_BACKWARD_REGION);
      top = bottom;
    }
  }

  private async resolve(batch: { offset: number; length: number }[]): Promise<void> {
    for (const { offset, length } of batch) {
      if (this.hits.length >= this.limit) return;
      const m = await this.mappingAt(offset);
      const hit: SearchHit = {
        offset,
        length,
        layer: m.depth,
        hostOffset: m.kind === 'data' && m.hostOffset !== undefined ? m.hostOffset + (offset - m.offset) : null,
      };
      this.hits.push(hit);
      this.opts.onHit?.(hit);
    }
  }

  private async mappingAt(offset: number): Promise<Mapping> {
    const m = this.lastMapping;
    if (m && offset >= m.offset && offset < m.offset + m.length) return m;
    return (this.lastMapping = await this.target.getMapping(offset));
  }
}
