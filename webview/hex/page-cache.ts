/**
 * The hex view's bounded page cache. Guest bytes come from the host in fixed, aligned pages; only pages the
 * view shows (plus a few recently seen) are kept, so memory stays flat however far the user scrolls.
 * Invalidation (after an edit, undo, save or reload) keeps the old bytes on screen until fresh ones arrive.
 * No DOM; the fetcher is injected, so tests drive it directly.
 */
import { SOURCE_KINDS, sourceKind } from '../kinds';
import type { MapKind } from '../../src/shared/protocol';

export const PAGE_SIZE = 16 * 1024;
export const MAX_PAGES = 64;

export interface FetchedRange {
  data: Uint8Array;
  runs: Array<{ start: number; length: number; kind: MapKind; depth: number }>;
  /** Unsaved edits in the range, [offset, length] pairs. */
  pending?: Array<[number, number]>;
}

export type PageFetcher = (offset: number, length: number) => Promise<FetchedRange>;

export interface Page {
  offset: number;
  data: Uint8Array;
  /** Per byte: index into SOURCE_KINDS. */
  kinds: Uint8Array;
  /** Fetched before the last invalidation: shown, but fetched again. */
  stale: boolean;
  /** Per byte: 1 when the byte holds an unsaved edit (allocated only when the page has one). */
  edited?: Uint8Array;
}

export interface CacheStats {
  pages: number;
  peakPages: number;
  fetches: number;
  /** Slowest single page fetch seen (request to answer, ms). */
  maxFetchMs: number;
  lastFetchMs: number;
}

const UNALLOCATED = SOURCE_KINDS.indexOf('unallocated');

export class PageCache {
  private readonly pages = new Map<number, Page>();
  private readonly inflight = new Map<number, Promise<void>>();
  private readonly queue: number[] = [];
  private readonly waiters = new Map<number, Array<() => void>>();
  /** Pages of the latest ensure() (what is on screen). */
  private wanted = new Set<number>();
  private generation = 0;
  readonly stats: CacheStats = { pages: 0, peakPages: 0, fetches: 0, maxFetchMs: 0, lastFetchMs: 0 };
  /** Called after a page arrives (the view redraws). */
  onLoaded: (index: number) => void = () => undefined;
  /** Called when a fetch fails. */
  onError: (err: unknown) => void = () => undefined;

  constructor(
    private readonly fetcher: PageFetcher,
    public size: number,
    readonly pageSize = PAGE_SIZE,
    readonly maxPages = MAX_PAGES,
    private readonly now: () => number = () => performance.now(),
    /** Page requests in flight at once: a drag over the disk must not queue dozens ahead of the final view. */
    readonly maxInflight = 4,
  ) {}

  pageIndex(offset: number): number {
    return Math.floor(offset / this.pageSize);
  }

  /** The cached page, or undefined (marks it recently used). */
  get(index: number): Page | undefined {
    const p = this.pages.get(index);
    if (p) {
      this.pages.delete(index);
      this.pages.set(index, p);
    }
    return p;
  }

  /** The byte at `offset` if its page is cached. */
  byteAt(offset: number): number | undefined {
    const p = this.pages.get(this.pageIndex(offset));
    return p ? p.data[offset - p.offset] : undefined;
  }

  /**
   * Loads the pages covering [start, end) that are missing or stale; resolves when they have arrived, or when a
   * later call no longer wants them (a fast scroll or drag skips the pages it only passed over).
   */
  async ensure(start: number, end: number): Promise<void> {
    const first = this.pageIndex(start);
    const last = this.pageIndex(Math.max(start, end - 1));
    const wanted = new Set<number>();
    for (let i = first; i <= last && i * this.pageSize < this.size; i++) wanted.add(i);
    this.wanted = wanted;
    const waits: Promise<void>[] = [];
    for (const i of wanted) {
      const p = this.get(i);
      if (p && !p.stale) continue;
      waits.push(this.request(i));
    }
    await Promise.all(waits);
  }

  /** Starts loading the page holding `offset` if it is not cached and the link is idle enough (rows just off screen). */
  prefetch(offset: number): void {
    if (offset < 0 || offset >= this.size || this.inflight.size >= this.maxInflight) return;
    const idx = this.pageIndex(offset);
    if (!this.pages.has(idx) && !this.inflight.has(idx)) void this.load(idx, new Set([idx, ...this.wanted]));
  }

  /** A page load, at most `maxInflight` at a time; the rest wait in a queue served newest first. */
  private request(index: number): Promise<void> {
    if (this.inflight.has(index) || this.inflight.size < this.maxInflight) return this.load(index, this.wanted);
    return new Promise((resolve) => {
      const ws = this.waiters.get(index);
      if (ws) ws.push(resolve);
      else {
        this.waiters.set(index, [resolve]);
        this.queue.push(index);
      }
    });
  }

  /** Serves the queue after a load finishes; queued pages no longer on screen are dropped unfetched. */
  private pump(): void {
    while (this.inflight.size < this.maxInflight && this.queue.length > 0) {
      const index = this.queue.pop()!;
      const ws = this.waiters.get(index) ?? [];
      this.waiters.delete(index);
      const done = () => ws.forEach((w) => w());
      if (!this.wanted.has(index)) {
        done();
        continue;
      }
      void this.load(index, this.wanted).then(done);
    }
  }

  private load(index: number, pinned: Set<number>): Promise<void> {
    const running = this.inflight.get(index);
    if (running) return running;
    const gen = this.generation;
    const offset = index * this.pageSize;
    const length = Math.min(this.pageSize, this.size - offset);
    const t0 = this.now();
    const job = (async () => {
      try {
        const got = await this.fetcher(offset, length);
        const ms = this.now() - t0;
        this.stats.fetches++;
        this.stats.lastFetchMs = ms;
        this.stats.maxFetchMs = Math.max(this.stats.maxFetchMs, ms);
        const page: Page = { offset, data: got.data, kinds: kindsOf(offset, length, got.runs), stale: gen !== this.generation };
        for (const [at, n] of got.pending ?? []) {
          const from = Math.max(0, at - offset);
          const to = Math.min(length, at + n - offset);
          if (to > from) (page.edited ??= new Uint8Array(length)).fill(1, from, to);
        }
        this.pages.delete(index);
        this.pages.set(index, page);
        this.evict(pinned);
        this.onLoaded(index);
      } catch (err) {
        this.onError(err);
      } finally {
        this.inflight.delete(index);
        this.pump();
      }
    })();
    this.inflight.set(index, job);
    return job;
  }

  /** Drops least recently used pages beyond the cap, never the ones on screen. */
  private evict(pinned: Set<number>): void {
    for (const key of this.pages.keys()) {
      if (this.pages.size <= this.maxPages) break;
      if (!pinned.has(key)) this.pages.delete(key);
    }
    this.stats.pages = this.pages.size;
    this.stats.peakPages = Math.max(this.stats.peakPages, this.pages.size);
  }

  /** Everything cached may be out of date: keep showing it, fetch again when next needed. */
  invalidate(): void {
    this.generation++;
    for (const p of this.pages.values()) p.stale = true;
  }

  /** Drops everything (the disk changed size or was reopened). */
  clear(size = this.size): void {
    this.generation++;
    this.pages.clear();
    this.size = size;
    this.stats.pages = 0;
  }

  /** Shows an edit at once, before the host confirms it. */
  patch(offset: number, bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length; i++) {
      const p = this.pages.get(this.pageIndex(offset + i));
      if (!p) continue;
      p.data[offset + i - p.offset] = bytes[i];
      (p.edited ??= new Uint8Array(p.data.length))[offset + i - p.offset] = 1;
    }
  }

  /** Bytes [offset, offset+length) assembled from pages (fetching what is missing). */
  async read(offset: number, length: number): Promise<Uint8Array> {
    const out = new Uint8Array(Math.max(0, Math.min(length, this.size - offset)));
    for (let at = offset; at < offset + out.length;) {
      const idx = this.pageIndex(at);
      let p = this.get(idx);
      // A stale page is fetched again: readers (the partition scan) must see the file as it is now (#20: the
      // Partitions panel stayed stale after the file was replaced). A second try covers a fetch that was
      // already in flight when the cache was invalidated.
      for (let tries = 0; (!p || p.stale) && tries < 2; tries++) {
        await this.load(idx, new Set([idx]));
        p = this.get(idx);
      }
      if (!p) throw new Error(`could not read guest bytes at offset ${at}`);
      const n = Math.min(p.offset + p.data.length, offset + out.length) - at;
      out.set(p.data.subarray(at - p.offset, at - p.offset + n), at - offset);
      at += n;
    }
    return out;
  }
}

/** Per-byte legend kinds of a page from the host's mapping runs. */
export function kindsOf(offset: number, length: number, runs: FetchedRange['runs']): Uint8Array {
  const kinds = new Uint8Array(length).fill(UNALLOCATED);
  for (const r of runs) {
    const from = Math.max(0, r.start - offset);
    const to = Math.min(length, r.start + r.length - offset);
    if (to > from) kinds.fill(SOURCE_KINDS.indexOf(sourceKind(r.kind, r.depth)), from, to);
  }
  return kinds;
}
