/** The hex view's timings: how long a go-to took until its rows were complete, the last redraw, the page fetches. */
import type { CacheStats } from './page-cache';

/** Timings the UI test and the bench read (also mirrored on the root element as data-* attributes). */
export interface HexTimings {
  lastGoToMs: number;
  /** Time of the last redraw itself (DOM updates), ms. */
  lastRenderMs: number;
  maxFetchMs: number;
  cachePages: number;
  peakCachePages: number;
}

export class HexTimer {
  readonly timings: HexTimings = { lastGoToMs: -1, lastRenderMs: 0, maxFetchMs: 0, cachePages: 0, peakCachePages: 0 };
  private gotoStart?: number;

  /** A jump starts: timed until a redraw finds every visible byte loaded. */
  startGoTo(): void {
    this.gotoStart = performance.now();
    this.timings.lastGoToMs = -1;
  }

  rendered(renderMs: number, complete: boolean, stats: Readonly<CacheStats>): void {
    const t = this.timings;
    t.lastRenderMs = renderMs;
    if (complete && this.gotoStart !== undefined) {
      t.lastGoToMs = performance.now() - this.gotoStart;
      this.gotoStart = undefined;
    }
    t.maxFetchMs = stats.maxFetchMs;
    t.cachePages = stats.pages;
    t.peakCachePages = stats.peakPages;
  }

  /** Mirrors the figures and where the view is onto data-* attributes (the UI tests wait on them). */
  publish(d: DOMStringMap, at: { topOffset: number; bytesPerRow: number; cursor: number; complete: boolean }): void {
    const t = this.timings;
    d.gotoMs = t.lastGoToMs.toFixed(1);
    d.renderMs = t.lastRenderMs.toFixed(2);
    d.maxFetchMs = t.maxFetchMs.toFixed(1);
    d.cachePages = String(t.cachePages);
    d.peakCachePages = String(t.peakCachePages);
    d.topOffset = String(at.topOffset);
    d.bytesPerRow = String(at.bytesPerRow);
    d.cursor = String(at.cursor);
    d.complete = String(at.complete);
  }

  /** Starts the fetch-time and cache-size figures afresh (the bench ignores its warm-up). */
  reset(stats: CacheStats): void {
    stats.maxFetchMs = 0;
    stats.peakPages = stats.pages;
  }
}
