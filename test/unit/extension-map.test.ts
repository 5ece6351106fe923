/** Map summary (per-bucket dominant kind in bounded memory) and qemu-img-map style rows. */
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { summarizeMap, type MappingSource } from '../../src/extension/map-summary';
import { runsBefore, runsFrom, type RunSource } from '../../src/extension/map-runs';
import { MAP_KIND_CODES, type MapKind } from '../../src/shared/protocol';
import { mapGrid } from '../../src/shared/map-cells';
import { openImage } from '../../src/qcow2';
import { qemuImg, qemuIo, scratchDir } from '../helpers/qemu';

interface Seg {
  start: number;
  length: number;
  kind: MapKind;
  depth: number;
  host?: number;
}

/** A fake device from a list of segments; getMapping answers with the rest of the segment (as the engine does). */
function fake(segs: Seg[], file = (d: number) => `layer${d}`): MappingSource & RunSource {
  const size = segs.reduce((a, s) => a + s.length, 0);
  return {
    virtualSize: size,
    async getMapping(offset: number) {
      const s = segs.find((x) => offset >= x.start && offset < x.start + x.length)!;
      const into = offset - s.start;
      return { length: s.length - into, kind: s.kind, depth: s.depth, file: file(s.depth), hostOffset: s.host === undefined ? undefined : s.host + into };
    },
  };
}

function segsFrom(parts: { length: number; kind: MapKind; depth: number; host?: number }[]): Seg[] {
  let at = 0;
  return parts.map((p) => {
    const s = { ...p, start: at };
    at += p.length;
    return s;
  });
}

/** Reference: per bucket, the allocated class with most bytes (first seen wins ties); unallocated only when alone. */
function reference(segs: Seg[], start0: number, end0: number, buckets: number, size: number): { kinds: number[]; depths: number[] } {
  // Cells as the map makes them (power-of-two bytes, aligned: map-cells.ts).
  const g = mapGrid(start0, end0, buckets, size);
  const [start, end, bb] = [g.start, g.end, g.cellBytes];
  buckets = g.count;
  const kinds: number[] = [];
  const depths: number[] = [];
  for (let b = 0; b < buckets; b++) {
    const lo = start + b * bb;
    const hi = Math.min(end, lo + bb);
    if (lo >= end) {
      kinds.push(255);
      depths.push(0);
      continue;
    }
    const acc = new Map<string, number>();
    for (const s of segs) {
      const ov = Math.min(hi, s.start + s.length) - Math.max(lo, s.start);
      if (ov <= 0) continue;
      const key = s.kind === 'unallocated' ? 'unallocated:0' : `${s.kind}:${s.depth}`;
      acc.set(key, (acc.get(key) ?? 0) + ov);
    }
    let best = '';
    let bestBytes = -1;
    const allocated = [...acc].filter(([k]) => k !== 'unallocated:0');
    for (const [k, v] of allocated.length ? allocated : [...acc]) if (v > bestBytes) [best, bestBytes] = [k, v];
    const [kind, depth] = best.split(':');
    kinds.push(MAP_KIND_CODES.indexOf(kind as MapKind));
    depths.push(Number(depth));
  }
  return { kinds, depths };
}

const arbParts = fc.array(
  fc.record({
    length: fc.integer({ min: 1, max: 5000 }),
    kind: fc.constantFrom<MapKind>('data', 'zero', 'compressed', 'unallocated'),
    depth: fc.integer({ min: 0, max: 3 }),
  }),
  { minLength: 1, maxLength: 60 },
);

describe('extension: map summary', () => {
  it('matches a byte-by-byte reference for random runs, windows and bucket counts', async () => {
    await fc.assert(
      fc.asyncProperty(
        arbParts,
        fc.integer({ min: 1, max: 300 }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        async (parts, buckets, a, b) => {
          const segs = segsFrom(parts);
          const src = fake(segs);
          const lo = Math.floor(Math.min(a, b) * (src.virtualSize - 1));
          const hi = Math.max(lo + 1, Math.ceil(Math.max(a, b) * src.virtualSize));
          const s = (await summarizeMap(src, lo, hi, buckets))!;
          const ref = reference(segs, lo, hi, buckets, src.virtualSize);
          assert.deepEqual(s.kinds, ref.kinds);
          assert.deepEqual(
            s.depths.map((d, i) => (s.kinds[i] === 255 ? 0 : d)),
            ref.depths,
          );
          assert.equal(s.done, true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('summarises a 4 TiB disk of 4M small runs in bounded memory, streaming partial results', async function () {
    this.timeout(60_000);
    // 4 TiB with 1 MiB clusters alternating data and zero: 4M runs (the engine would coalesce; this fake does not).
    const cluster = 2 ** 20;
    const size = 4 * 2 ** 40;
    const src: MappingSource = {
      virtualSize: size,
      async getMapping(offset) {
        const i = Math.floor(offset / cluster);
        return { length: (i + 1) * cluster - offset, kind: i % 2 ? 'zero' : 'data', depth: 0 };
      },
    };
    let partials = 0;
    const before = process.memoryUsage().heapUsed;
    const s = (await summarizeMap(src, 0, size, 4096, { partialEveryMs: 200, onPartial: () => partials++ }))!;
    const grown = process.memoryUsage().heapUsed - before;
    assert.equal(s.kinds.length, 4096);
    assert.ok(s.kinds.every((k) => k === 1 || k === 2));
    assert.ok(s.mixed.every((m) => m === 1));
    assert.ok(partials > 0, 'partial results were streamed');
    assert.ok(grown < 64 * 2 ** 20, `heap grew by ${grown} bytes`);
  });

  it('maps a sparse 4 TiB qemu-img image at every zoom level quickly', async function () {
    this.timeout(60_000);
    const tmp = scratchDir('q2i-ext-4t-');
    try {
      const p = tmp.path('huge.qcow2');
      qemuImg(['create', '-q', '-f', 'qcow2', p, '4T']);
      qemuIo(p, ['write -P 7 0 1M', 'write -P 8 2T 64k', 'write -z 3T 1M', 'write -P 9 4398046445568 64k']);
      const dev = await openImage(p, { readOnly: true });
      try {
        const size = dev.info.virtualSize;
        for (const [lo, hi] of [
          [0, size],
          [2 ** 41 - 2 ** 30, 2 ** 41 + 2 ** 30],
          [2 ** 41, 2 ** 41 + 2 ** 20],
        ]) {
          const t0 = Date.now();
          const s = (await summarizeMap(dev, lo, hi, 8000))!;
          const ms = Date.now() - t0;
          assert.ok(ms < 1000, `${lo}..${hi} took ${ms} ms`);
          const kindAt = (off: number) => s.kinds[Math.floor((off - lo) / s.bucketBytes)];
          if (lo === 0) {
            assert.equal(kindAt(0), 1);
            assert.equal(kindAt(2 ** 41), 1);
            assert.equal(kindAt(3 * 2 ** 40), 2);
            assert.equal(kindAt(size - 1), 1);
            assert.equal(kindAt(2 ** 40), 0);
          } else {
            assert.equal(kindAt(2 ** 41), 1);
          }
        }
      } finally {
        await dev.close();
      }
    } finally {
      tmp.cleanup();
    }
  });

  it('stops when cancelled', async () => {
    const src = fake(segsFrom(Array.from({ length: 1000 }, (_, i) => ({ length: 10, kind: i % 2 ? 'zero' : 'data', depth: 0 }))));
    let calls = 0;
    const s = await summarizeMap(src, 0, src.virtualSize, 10, { isCancelled: () => ++calls > 5 });
    assert.equal(s, undefined);
  });
});

describe('extension: mapping rows', () => {
  it('merges host-contiguous runs of one layer, and pages forwards and backwards to the same rows', async () => {
    const segs = segsFrom([
      { length: 100, kind: 'data', depth: 0, host: 1000 },
      { length: 50, kind: 'data', depth: 0, host: 1100 }, // contiguous: merged
      { length: 50, kind: 'data', depth: 0, host: 5000 }, // not contiguous
      { length: 30, kind: 'unallocated', depth: 1 },
      { length: 30, kind: 'zero', depth: 0 },
      { length: 40, kind: 'data', depth: 1, host: 7 },
    ]);
    const src = fake(segs);
    const all = await runsFrom(src, 0, 100);
    assert.deepEqual(
      all.map((r) => [r.start, r.length, r.kind, r.hostOffset]),
      [
        [0, 150, 'data', 1000],
        [150, 50, 'data', 5000],
        [200, 30, 'unallocated', undefined],
        [230, 30, 'zero', undefined],
        [260, 40, 'data', 7],
      ],
    );
    assert.deepEqual((await runsFrom(src, 0, 2)).length, 2);
    assert.deepEqual(await runsBefore(src, 260, 3, 16), all.slice(1, 4));
    assert.deepEqual(await runsBefore(src, 300, 10, 7), all);
  });

  it('lists the same data ranges as qemu-img map for a three-layer chain', async () => {
    const tmp = scratchDir('q2i-ext-map-');
    try {
      const base = tmp.path('base.qcow2');
      const mid = tmp.path('mid.qcow2');
      const top = tmp.path('top.qcow2');
      qemuImg(['create', '-q', '-f', 'qcow2', base, '256M']);
      qemuIo(base, ['write -P 1 0 3M', 'write -P 2 100M 1M']);
      qemuImg(['create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', mid]);
      qemuIo(mid, ['write -P 3 1M 64k', 'write -P 4 50M 2M']);
      qemuImg(['create', '-q', '-f', 'qcow2', '-b', 'mid.qcow2', '-F', 'qcow2', top]);
      qemuIo(top, ['write -P 5 2M 128k', 'write -z 100M 64k']);
      const expected = qemuImg(['map', '--output=json', top]).stdout;
      const want = (JSON.parse(expected) as { start: number; length: number; data: boolean; offset?: number; depth: number }[])
        .filter((e) => e.data)
        .map((e) => [e.start, e.length, e.offset, e.depth]);
      const dev = await openImage(top, { readOnly: true });
      try {
        const rows = await runsFrom(dev, 0, 1000);
        const got = rows.filter((r) => r.kind === 'data').map((r) => [r.start, r.length, r.hostOffset, r.depth]);
        assert.deepEqual(got, want);
        assert.equal(
          rows.reduce((a, r) => a + r.length, 0),
          dev.info.virtualSize,
        );
      } finally {
        await dev.close();
      }
    } finally {
      tmp.cleanup();
    }
  });
});
