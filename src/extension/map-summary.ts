/**
 * Summarises the guest map for the canvas: one dominant kind per pixel bucket (unallocated only when nothing in the
 * bucket is allocated), computed from the chain's
 * mapping runs in one forward pass. Memory is O(buckets), whatever the disk size or the number of runs.
 */
import { MAP_KIND_CODES, MAP_KIND_NONE, type MapKind, type MapSummary } from '../shared/protocol';
import { mapGrid } from '../shared/map-cells';

/** What the summary needs from a device (Qcow2Dev.getMapping fits). */
export interface MappingSource {
  readonly virtualSize: number;
  getMapping(offset: number): Promise<{ length: number; kind: MapKind; depth: number }>;
}

export interface SummaryOptions {
  /** Called with partial results about every `partialEveryMs` (and never after `isCancelled`). */
  onPartial?: (s: MapSummary) => void;
  partialEveryMs?: number;
  isCancelled?: () => boolean;
  layers?: string[];
  requestId?: number;
}

const KIND_CODE: Record<MapKind, number> = { unallocated: 0, data: 1, zero: 2, compressed: 3 };
export const MAX_DEPTH_CLASSES = 65;

/** Class of a (kind, depth) pair: unallocated is one class whatever the depth. */
function classOf(kind: MapKind, depth: number): number {
  return kind === 'unallocated' ? 0 : KIND_CODE[kind] + 3 * Math.min(depth, MAX_DEPTH_CLASSES - 1);
}

function decodeClass(c: number): { kind: number; depth: number } {
  if (c === 0) return { kind: 0, depth: 0 };
  return { kind: ((c - 1) % 3) + 1, depth: Math.floor((c - 1) / 3) };
}

export async function summarizeMap(
  src: MappingSource,
  start: number,
  end: number,
  buckets: number,
  opts: SummaryOptions = {},
): Promise<MapSummary | undefined> {
  const t0 = Date.now();
  // Power-of-two cells aligned to their size (map-cells.ts): the range shown may start a little before `start`.
  const grid = mapGrid(start, end, buckets, src.virtualSize);
  start = grid.start;
  end = grid.end;
  const bucketBytes = grid.cellBytes;
  const n = grid.count;
  const kinds = new Array<number>(n).fill(MAP_KIND_NONE);
  const depths = new Array<number>(n).fill(0);
  const mixed = new Array<number>(n).fill(0);
  // Bytes per class in the bucket being filled; reset when the bucket is finished.
  const acc = new Float64Array(1 + 3 * MAX_DEPTH_CLASSES);
  const touched: number[] = [];
  let cur = 0;
  const finish = (b: number): void => {
    let best = 0;
    let bestBytes = -1;
    for (const c of touched) {
      // Anything allocated beats unallocated, so a small write stays visible on a zoomed-out map.
      if (c !== 0 && best === 0 && bestBytes >= 0) bestBytes = -1;
      if (c === 0 && best !== 0 && bestBytes >= 0) continue;
      if (acc[c] > bestBytes) {
        best = c;
        bestBytes = acc[c];
      }
    }
    const d = decodeClass(best);
    kinds[b] = d.kind;
    depths[b] = d.depth;
    mixed[b] = touched.length > 1 ? 1 : 0;
    for (const c of touched) acc[c] = 0;
    touched.length = 0;
  };
  const snapshot = (scannedTo: number, done: boolean): MapSummary => ({
    requestId: opts.requestId ?? 0,
    start,
    end,
    bucketBytes,
    kinds: kinds.slice(),
    depths: depths.slice(),
    mixed: mixed.slice(),
    scannedTo,
    done,
    elapsedMs: Date.now() - t0,
    layers: opts.layers ?? [],
  });
  const every = opts.partialEveryMs ?? 100;
  let lastYield = Date.now();
  let off = start;
  while (off < end) {
    if (opts.isCancelled?.()) return undefined;
    const m = await src.getMapping(off);
    const runEnd = Math.min(end, off + Math.max(1, m.length));
    const c = classOf(m.kind, m.depth);
    let pos = off;
    while (pos < runEnd) {
      const b = Math.min(n - 1, Math.floor((pos - start) / bucketBytes));
      if (b > cur) {
        if (touched.length > 0) finish(cur);
        cur = b;
      }
      const bucketEnd = Math.min(end, start + (b + 1) * bucketBytes);
      if (pos === start + b * bucketBytes && runEnd >= bucketEnd && touched.length === 0) {
        // Buckets the run covers completely are filled directly: O(buckets) for huge runs.
        const stop = runEnd >= end ? n - 1 : Math.min(n - 1, Math.floor((runEnd - start) / bucketBytes) - 1);
        const d = decodeClass(c);
        for (let k = b; k <= stop; k++) {
          kinds[k] = d.kind;
          depths[k] = d.depth;
          mixed[k] = 0;
        }
        pos = Math.min(runEnd, start + (stop + 1) * bucketBytes);
        cur = stop + 1;
        continue;
      }
      const take = Math.min(runEnd, bucketEnd) - pos;
      if (acc[c] === 0) touched.push(c);
      acc[c] += take;
      pos += take;
    }
    off = runEnd;
    if (Date.now() - lastYield >= every) {
      // Let other messages through, and show progress.
      await new Promise((r) => setImmediate(r));
      lastYield = Date.now();
      if (opts.isCancelled?.()) return undefined;
      opts.onPartial?.(snapshot(off, false));
    }
  }
  if (cur < n && touched.length > 0) finish(cur);
  return snapshot(end, true);
}

export function kindName(code: number): MapKind | undefined {
  return MAP_KIND_CODES[code];
}
