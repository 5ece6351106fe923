/** The map's extents overlay model (src/shared/extent-overlay.ts): joining to a bound, and ranges to map cells. */
import * as assert from 'node:assert/strict';
import { coalesceExtents, MAX_OVERLAY_RANGES, rangeCells, type GuestRange } from '../../src/shared/extent-overlay';
import { prng as rng } from '../helpers/images';

const ext = (diskOffset: number, length: number, logical = 0) => ({ diskOffset, length, logical });

/** A seeded generator (mulberry32), so the random cases repeat. */
describe("extents overlay: joining a file's extents", () => {
  it('sorts by disk offset and merges touching or overlapping extents; bytes count each byte once', () => {
    const r = coalesceExtents([ext(8192, 4096, 4096), ext(4096, 4096, 0), ext(20480, 1024), ext(20992, 1024)]);
    assert.deepEqual(r.ranges, [
      [4096, 8192],
      [20480, 1536],
    ]);
    assert.equal(r.extents, 4);
    assert.equal(r.bytes, 8192 + 1536);
    assert.equal(r.joined, 0);
  });

  it('drops empty or negative extents and gives nothing for an empty file', () => {
    assert.deepEqual(coalesceExtents([]), { ranges: [], extents: 0, bytes: 0, joined: 0 });
    assert.deepEqual(coalesceExtents([ext(100, 0), ext(-5, 10)]).ranges, []);
  });

  it('over the bound, joins across the narrowest gaps and keeps the widest as splits', () => {
    // Gaps: 100, 10, 1000, 10 → with 3 ranges allowed the two widest gaps (1000, 100) stay.
    const r = coalesceExtents([ext(0, 10), ext(110, 10), ext(130, 10), ext(1140, 10), ext(1160, 10)], 3);
    assert.deepEqual(r.ranges, [
      [0, 10],
      [110, 30],
      [1140, 30],
    ]);
    assert.equal(r.joined, 2);
    assert.equal(r.bytes, 50, "bytes are the extents' own, not the joined gaps");
  });

  it('a hostile file of 200,000 scattered extents becomes at most MAX_OVERLAY_RANGES ranges that still cover every extent', () => {
    const next = rng(13);
    const extents = [];
    for (let i = 0; i < 200_000; i++) extents.push(ext(Math.floor(next() * 2 ** 40) * 512, 512 * (1 + Math.floor(next() * 8))));
    const t0 = Date.now();
    const r = coalesceExtents(extents);
    assert.ok(Date.now() - t0 < 10_000, 'one sort, no loop per join');
    assert.ok(r.ranges.length <= MAX_OVERLAY_RANGES);
    assert.equal(r.extents, 200_000);
    for (let i = 1; i < r.ranges.length; i++) assert.ok(r.ranges[i][0] > r.ranges[i - 1][0] + r.ranges[i - 1][1], 'sorted, apart');
    // Every extent lies inside one range.
    const starts = r.ranges.map((x) => x[0]);
    for (const e of extents.slice(0, 5000)) {
      let lo = 0;
      let hi = starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid] <= e.diskOffset) lo = mid;
        else hi = mid - 1;
      }
      const [at, len] = r.ranges[lo];
      assert.ok(e.diskOffset >= at && e.diskOffset + e.length <= at + len, `extent at ${e.diskOffset} covered`);
    }
  });
});

describe('extents overlay: ranges to map cells', () => {
  const grid = { start: 1000, end: 1000 + 64 * 100, cellBytes: 100 };

  it('marks each cell a range touches, once, in order; a range ending on a cell edge does not reach the next', () => {
    const ranges: GuestRange[] = [
      [1000, 100],
      [1150, 200],
      [1300, 10],
    ];
    assert.deepEqual(rangeCells(ranges, grid, 64), [0, 1, 2, 3]);
  });

  it('clips to the grid and to the cells shown', () => {
    assert.deepEqual(rangeCells([[0, 1100]], grid, 64), [0]);
    assert.deepEqual(rangeCells([[1000 + 62 * 100, 10_000]], grid, 64), [62, 63]);
    assert.deepEqual(rangeCells([[1000 + 40 * 100, 100]], grid, 32), [], 'past the cells the canvas shows');
    assert.deepEqual(rangeCells([[99_999_999, 5]], grid, 64), []);
  });

  it('a range over the whole disk marks each cell once, however large', () => {
    assert.equal(rangeCells([[0, 2 ** 50]], grid, 64).length, 64);
    assert.deepEqual(rangeCells([[0, 2 ** 50]], { ...grid, cellBytes: 0 }, 64), []);
  });
});
