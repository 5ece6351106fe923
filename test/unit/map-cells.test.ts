/** The map's cell grid (#20 point 7): power-of-two cells at multiples of their size, on disk sizes that are not powers of two. */
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { cellAt, cellRange, mapGrid, MIN_CELL_BYTES } from '../../src/shared/map-cells';
import { summarizeMap, type MappingSource } from '../../src/extension/map-summary';
import { runUnderCell } from '../../src/extension/map-cell-run';
import type { MapKind } from '../../src/shared/protocol';

const GiB = 2 ** 30;
const isPow2 = (n: number) => (n > 0 && (n & (n - 1)) === 0) || (n >= 2 ** 31 && Number.isInteger(Math.log2(n)));

describe('map cells: grid arithmetic', () => {
  for (const [name, size] of [
    ['20 GiB', 20 * GiB],
    ['1 GiB + 7 bytes', GiB + 7],
    ['3 GiB - 512', 3 * GiB - 512],
    ['4 TiB + 64 KiB', 4 * 2 ** 40 + 65536],
    ['100 MB', 100e6],
  ] as const) {
    it(`${name}: cells are a power of two >= 512 bytes, start at multiples of it, and cover the disk`, () => {
      for (const cells of [1, 7, 1000, 6720, 8192]) {
        const g = mapGrid(0, size, cells, size);
        assert.ok(isPow2(g.cellBytes) && g.cellBytes >= MIN_CELL_BYTES, `cell ${g.cellBytes}`);
        assert.equal(g.start % g.cellBytes, 0);
        assert.ok(g.count <= cells && g.count >= 1);
        assert.equal(g.end, size, 'the last cell stops at the end of the disk');
        assert.ok(g.start + g.count * g.cellBytes >= size);
        // The finest such grid: half the cell size would need more cells than allowed (or be under a sector).
        assert.ok(g.cellBytes === MIN_CELL_BYTES || Math.ceil(size / (g.cellBytes / 2)) > cells);
        assert.deepEqual(cellRange(g, g.count - 1), { from: (g.count - 1) * g.cellBytes, to: size });
      }
    });
  }

  it('the issue case: on a 20 GiB disk no cell starts at an odd byte, and 1 GiB begins a cell', () => {
    const size = 20 * GiB;
    const g = mapGrid(0, size, 140 * 48, size);
    assert.equal(g.cellBytes, 4 * 2 ** 20);
    assert.equal(cellRange(g, cellAt(g, GiB)).from, GiB);
    assert.equal(cellAt(g, GiB - 1), cellAt(g, GiB) - 1);
  });

  it('zoomed ranges start on a cell boundary at or before the asked start, and contain the range', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 45 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.integer({ min: 1, max: 8192 }),
        (size, a, b, cells) => {
          const lo = Math.floor(Math.min(a, b) * (size - 1));
          const hi = Math.max(lo + 1, Math.ceil(Math.max(a, b) * size));
          const g = mapGrid(lo, hi, cells, size);
          assert.ok(isPow2(g.cellBytes) && g.cellBytes >= MIN_CELL_BYTES);
          assert.equal(g.start % g.cellBytes, 0);
          assert.ok(g.start <= lo && g.end >= Math.min(hi, size));
          assert.ok(g.count <= cells);
          assert.equal(cellAt(g, lo), Math.floor((lo - g.start) / g.cellBytes));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

interface Seg {
  start: number;
  length: number;
  kind: MapKind;
  depth: number;
  host?: number;
}
function fake(parts: Omit<Seg, 'start'>[]): MappingSource & {
  virtualSize: number;
  getMapping(o: number): Promise<{ length: number; kind: MapKind; depth: number; file: string; hostOffset?: number }>;
} {
  let at = 0;
  const segs: Seg[] = parts.map((p) => {
    const s = { ...p, start: at };
    at += p.length;
    return s;
  });
  return {
    virtualSize: at,
    async getMapping(offset: number) {
      const s = segs.find((x) => offset >= x.start && offset < x.start + x.length)!;
      const into = offset - s.start;
      return { length: s.length - into, kind: s.kind, depth: s.depth, file: `layer${s.depth}`, hostOffset: s.host === undefined ? undefined : s.host + into };
    },
  };
}

describe('map cells: the run under a cell', () => {
  // The disk: 20 GiB with a 256 KiB data run at 1 GiB, and 8 bytes past it (1 GiB + 7 bytes of data elsewhere).
  const size = 20 * GiB;
  const src = fake([
    { length: GiB, kind: 'unallocated', depth: 0 },
    { length: 256 * 1024, kind: 'data', depth: 0, host: 0x50000 },
    { length: size - GiB - 256 * 1024, kind: 'unallocated', depth: 0 },
  ]);

  it('paints the 256 KiB run at 1 GiB in the one cell that starts at 1 GiB', async () => {
    const s = (await summarizeMap(src, 0, size, 140 * 48))!;
    const g = { start: s.start, cellBytes: s.bucketBytes, count: s.kinds.length, end: s.end };
    const i = cellAt(g, GiB);
    assert.equal(s.start + i * s.bucketBytes, GiB);
    assert.equal(s.kinds[i], 1, 'data');
    assert.equal(s.kinds[i - 1], 0, 'the cell before holds no data');
    assert.equal(s.kinds.filter((k) => k === 1).length, 1);
  });

  it('describes the whole run and clicks to its first byte', async () => {
    const cell = 4 * 2 ** 20;
    const r = await runUnderCell(src, GiB, GiB + cell, 'data', 0, 2 ** 30);
    assert.deepEqual([r.run.start, r.run.length, r.run.kind, r.run.hostOffset], [GiB, 256 * 1024, 'data', 0x50000]);
    assert.equal(r.clickOffset, GiB);
    // A data run starting inside a cell that begins with unallocated bytes: still its own start.
    const r2 = await runUnderCell(src, GiB - 1024 * 1024, GiB + 3 * 1024 * 1024, 'data', 0, 2 ** 30);
    assert.equal(r2.run.start, GiB);
    assert.equal(r2.clickOffset, GiB);
  });

  it('a run that began in an earlier cell is shown whole; the click stays in the cell under the pointer', async () => {
    const at = 5 * GiB;
    const r = await runUnderCell(src, at, at + 2 ** 22, 'unallocated', 0, 2 ** 28);
    assert.equal(r.run.start, GiB + 256 * 1024);
    assert.equal(r.run.start + r.run.length, size);
    assert.equal(r.clickOffset, at);
  });

  it('merges host-contiguous pieces across the cell edge, as the run list does', async () => {
    const s2 = fake([
      { length: 3000, kind: 'data', depth: 1, host: 10_000 },
      { length: 5000, kind: 'data', depth: 1, host: 13_000 },
      { length: 2000, kind: 'zero', depth: 0 },
    ]);
    const r = await runUnderCell(s2, 4096, 8192, 'data', 1, 512);
    assert.deepEqual([r.run.start, r.run.length, r.run.depth], [0, 8000, 1]);
    assert.equal(r.clickOffset, 4096);
  });
});
