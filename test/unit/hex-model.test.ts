/** The hex view's rendering model: offset ↔ scroll mapping on multi-TiB disks, row layout, copy, page cache bounds. */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { ScrollModel, MIN_THUMB_PX } from '../../webview/hex/scroll-model';
import { autoBytesPerRow, rowWidthPx } from '../../webview/hex/row-fit';
import { copyAsHex, copyAsText, formatOffset, gapBefore, hexDigit } from '../../webview/hex/row-layout';
import { PageCache, kindsOf, type FetchedRange } from '../../webview/hex/page-cache';
import { SOURCE_KINDS } from '../../webview/kinds';

const TiB = 2 ** 40;

describe('hex view: scroll model', () => {
  it('reaches the last byte of a 4 TiB disk and maps the thumb both ways', () => {
    const m = new ScrollModel(4 * TiB, 16, 40);
    assert.equal(m.totalRows, 2 ** 38);
    m.setTopRow(Number.MAX_SAFE_INTEGER);
    assert.equal(m.topRow, 2 ** 38 - 40);
    const [s, e] = m.visibleRange();
    assert.equal(e, 4 * TiB);
    assert.equal(e - s, 40 * 16);
    const track = 800;
    const t = m.thumb(track);
    assert.equal(t.height, MIN_THUMB_PX);
    assert.equal(t.top + t.height, track);
    assert.equal(m.topRowForThumb(t.top, track), m.maxTopRow);
    assert.equal(m.topRowForThumb(0, track), 0);
    assert.equal(m.topRowForThumb(-50, track), 0);
    assert.equal(m.topRowForThumb(10_000, track), m.maxTopRow);
  });

  it('thumb → row → thumb round-trips within a pixel for any row of any disk size', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 50 }),
        fc.constantFrom(8, 16, 32, 64),
        fc.integer({ min: 1, max: 200 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (size, bpr, rows, frac) => {
          const m = new ScrollModel(size, bpr, rows);
          m.setTopRow(frac * m.maxTopRow);
          const t = m.thumb(600);
          const back = m.topRowForThumb(t.top, 600);
          m.setTopRow(back);
          assert.ok(Math.abs(m.thumb(600).top - t.top) <= 1);
          assert.ok(m.topRow >= 0 && m.topRow <= m.maxTopRow);
        },
      ),
      { seed: 6, numRuns: 500 },
    );
  });

  it('go to centres the offset, reveal scrolls the least, changing the row width keeps the first byte', () => {
    const m = new ScrollModel(4 * TiB, 16, 30);
    const target = 3 * TiB + 12345;
    m.centre(target);
    assert.ok(m.isVisible(target));
    assert.equal(m.rowOf(target) - m.topRow, 10);
    m.reveal(target + 16 * 25);
    assert.equal(m.topRow + m.viewRows - 1, m.rowOf(target + 16 * 25));
    const first = m.topRow * 16;
    m.setBytesPerRow(64);
    assert.equal(m.topRow, Math.floor(first / 64));
    m.centre(0);
    assert.equal(m.topRow, 0);
    const tiny = new ScrollModel(100, 16, 30);
    assert.equal(tiny.maxTopRow, 0);
    assert.deepEqual(tiny.thumb(300), { top: 0, height: 300 });
  });
});

describe('hex view: row layout and copy', () => {
  it('formats offsets in hex, decimal and LBA with a fixed width per disk', () => {
    assert.equal(formatOffset(0x1f0, 'hex', 1 << 20, 512), '000001f0');
    assert.equal(formatOffset(4 * TiB - 16, 'hex', 4 * TiB, 512), '3fffffffff0');
    assert.equal(formatOffset(496, 'dec', 1_000_000, 512), '   496');
    assert.equal(formatOffset(2048 * 512 + 16, 'lba', 64 << 20, 512), '  2048+010');
    assert.equal(formatOffset(4096 + 8, 'lba', 1 << 20, 4096), '  1+008');
  });

  it('groups bytes and copies as hex (per row, grouped) or as text', () => {
    assert.deepEqual(
      [0, 1, 2, 3, 4].map((i) => gapBefore(i, 2)),
      [false, false, true, false, true],
    );
    const b = Uint8Array.from([0x48, 0x69, 0x00, 0xff, 0x41]);
    assert.equal(copyAsHex(b, 0, 16, 1), '48 69 00 ff 41');
    assert.equal(copyAsHex(b, 0, 16, 2), '4869 00ff 41');
    assert.equal(copyAsHex(b, 14, 16, 1), '48 69\n00 ff 41');
    assert.equal(copyAsText(b), 'Hi..A');
    assert.equal(hexDigit('F'), 15);
    assert.equal(hexDigit('g'), undefined);
  });
});

describe('hex view: page cache', () => {
  function fakeFetcher(size: number, delay = 0) {
    const calls: Array<[number, number]> = [];
    const f = async (offset: number, length: number): Promise<FetchedRange> => {
      calls.push([offset, length]);
      if (delay) await new Promise((r) => setTimeout(r, delay));
      const data = new Uint8Array(length).map((_, i) => (offset + i) & 0xff);
      return {
        data,
        runs: [
          { start: offset, length: Math.min(length, 100), kind: 'data', depth: 0 },
          { start: offset + 100, length: length - 100, kind: 'compressed', depth: 1 },
        ],
      };
    };
    return { f, calls, size };
  }

  it('fetches only the pages in view, once, and stays within its bound while scrolling a 4 TiB disk', async () => {
    const { f, calls } = fakeFetcher(4 * TiB);
    const c = new PageCache(f, 4 * TiB, 16384, 8);
    await Promise.all([c.ensure(0, 1024), c.ensure(0, 1024)]);
    assert.deepEqual(calls, [[0, 16384]]);
    for (let off = 0; off < 4 * TiB; off += TiB / 64) await c.ensure(off, off + 2048);
    assert.ok(c.stats.peakPages <= 8, `peak ${c.stats.peakPages}`);
    assert.equal(c.stats.pages, 8);
    await c.ensure(4 * TiB - 100, 4 * TiB);
    assert.deepEqual(calls.at(-1), [4 * TiB - 16384, 16384]);
    assert.equal(c.byteAt(4 * TiB - 1), (4 * TiB - 1) & 0xff);
  });

  it('keeps at most 4 fetches in flight and skips pages a fast drag only passed over', async () => {
    const pending: Array<{ offset: number; go: () => void }> = [];
    const fetcher = (offset: number, length: number) =>
      new Promise<FetchedRange>((resolve) => pending.push({ offset, go: () => resolve({ data: new Uint8Array(length), runs: [] }) }));
    const c = new PageCache(fetcher, 1 << 30, 4096, 64);
    const done: Promise<void>[] = [];
    for (let i = 0; i < 10; i++) done.push(c.ensure(i * 100 * 4096, i * 100 * 4096 + 100)); // ten views, one page each
    assert.deepEqual(
      pending.map((p) => p.offset / 4096),
      [0, 100, 200, 300],
    ); // capped at 4
    // The first four answer: the queue is served newest first and only the last view's page is still wanted.
    for (const p of pending.splice(0)) p.go();
    await new Promise((r) => setTimeout(r, 0));
    assert.deepEqual(
      pending.map((p) => p.offset / 4096),
      [900],
    );
    pending[0].go();
    await Promise.all(done); // every ensure() settles, fetched or skipped
    assert.ok(c.get(900) && !c.get(500));
  });

  it('read() fetches stale pages again (a rescan after the file changed sees the new bytes)', async () => {
    let gen = 1;
    const f = async (offset: number, length: number): Promise<FetchedRange> => ({ data: new Uint8Array(length).fill(gen), runs: [] });
    const c = new PageCache(f, 1 << 20, 4096, 4);
    assert.deepEqual([...(await c.read(0, 2))], [1, 1]);
    gen = 2; // the file changed on disk
    c.invalidate();
    assert.deepEqual([...(await c.read(0, 2))], [2, 2]);
  });

  it('never evicts the pages on screen, even over its bound', async () => {
    const { f } = fakeFetcher(1 << 30);
    const c = new PageCache(f, 1 << 30, 4096, 2);
    await c.ensure(0, 4096 * 4);
    for (let i = 0; i < 4; i++) assert.ok(c.get(i), `page ${i}`);
  });

  it('colours bytes by source, keeps stale bytes on screen after invalidate, and refetches them', async () => {
    const { f, calls } = fakeFetcher(1 << 20);
    const c = new PageCache(f, 1 << 20, 4096, 4);
    await c.ensure(0, 10);
    const p = c.get(0)!;
    assert.equal(SOURCE_KINDS[p.kinds[0]], 'data');
    assert.equal(SOURCE_KINDS[p.kinds[200]], 'backing');
    c.patch(5, Uint8Array.of(0xee));
    assert.equal(c.byteAt(5), 0xee);
    c.invalidate();
    assert.equal(c.get(0)!.stale, true);
    assert.equal(c.byteAt(5), 0xee); // still shown until the fresh page arrives
    await c.ensure(0, 10);
    assert.equal(calls.length, 2);
    assert.equal(c.get(0)!.stale, false);
    assert.equal(c.byteAt(5), 5);
    assert.deepEqual(
      [...(await c.read(4090, 12))],
      [...Array(12).keys()].map((i) => (4090 + i) & 0xff),
    );
    assert.equal(SOURCE_KINDS[kindsOf(0, 10, [])[3]], 'unallocated');
    const before = calls.length;
    c.prefetch(3 * 4096 + 5);
    c.prefetch(3 * 4096 + 6); // in flight: not fetched twice
    c.prefetch(-1);
    c.prefetch(1 << 20);
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(calls.slice(before), [[3 * 4096, 4096]]);
    assert.ok(c.get(3));
  });
});

import { byteAtHexColumn, hexColumnLayout, Pieces } from '../../webview/hex/row-paint';

describe('hex view: row painting', () => {
  it('lays out grouped hex columns and maps every character back to its byte', () => {
    const l1 = hexColumnLayout(4, 1);
    assert.deepEqual(l1.starts, [0, 3, 6, 9]);
    assert.equal(l1.width, 11);
    const l2 = hexColumnLayout(8, 4);
    assert.deepEqual(l2.starts, [0, 2, 4, 6, 9, 11, 13, 15]);
    // "00112233 44556677": characters 0-1 → byte 0, the space (8) → byte 4, 9-10 → byte 4.
    assert.deepEqual(
      [0, 1, 2, 7, 8, 9, 16, 40].map((c) => byteAtHexColumn(c, l2)),
      [0, 0, 1, 3, 4, 4, 7, 7],
    );
    for (const [bpr, g] of [
      [16, 1],
      [16, 2],
      [32, 8],
      [64, 4],
    ]) {
      const l = hexColumnLayout(bpr, g);
      l.starts.forEach((s, i) => {
        assert.equal(byteAtHexColumn(s, l), i);
        assert.equal(byteAtHexColumn(s + 1, l), i);
      });
    }
  });

  it('merges neighbouring bytes with the same look into one piece', () => {
    const p = new Pieces();
    p.add('00', 'hx-k0');
    p.add(' ', '');
    p.add('11', 'hx-k0');
    p.add('22', 'hx-k0');
    p.add('33', 'hx-k0 hx-sel');
    assert.deepEqual(p.texts.slice(0, p.n), ['00', ' ', '1122', '33']);
    p.reset();
    p.add('ff', 'x');
    assert.equal(p.n, 1);
  });
});

describe('hex view: auto bytes per row', () => {
  const m = (widthPx: number, group = 1) => ({ widthPx, charPx: 7.8, offsetChars: 9, group, paddingPx: 32 });
  it('picks the widest power of two whose offset, bytes and text fit the width', () => {
    assert.equal(autoBytesPerRow(m(2000)), 32);
    assert.equal(autoBytesPerRow(m(4000)), 64);
    // 16 bytes: 32 + 7.8 × (9 + 47 + 16) = 593.6 px.
    assert.equal(autoBytesPerRow(m(594)), 16);
    assert.equal(autoBytesPerRow(m(593)), 8);
    // A 320 px editor (two side by side): 8 bytes need 32 + 7.8 × 40 = 344 px, so 4.
    assert.equal(autoBytesPerRow(m(300)), 4);
    // Nothing fits: the narrowest, and the grid scrolls.
    assert.equal(autoBytesPerRow(m(50)), 4);
  });
  it('grouping saves separators, so more bytes fit', () => {
    assert.equal(autoBytesPerRow(m(560, 1)), 8);
    assert.equal(autoBytesPerRow(m(560, 8)), 16);
  });
  it('a chosen row always fits the width it was chosen for (or is the narrowest)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 5000 }),
        fc.double({ min: 5, max: 12, noNaN: true }),
        fc.integer({ min: 8, max: 16 }),
        fc.constantFrom(1, 2, 4, 8),
        (w, cw, oc, g) => {
          const metrics = { widthPx: w, charPx: cw, offsetChars: oc, group: g, paddingPx: 32 };
          const n = autoBytesPerRow(metrics);
          assert.ok(n === 4 || rowWidthPx(n, metrics) <= w);
          if (n < 64) assert.ok(rowWidthPx(n * 2, metrics) > w);
        },
      ),
    );
  });
});
