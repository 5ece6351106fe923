/**
 * Rows of the mapping list, as qemu-img map prints them: consecutive ranges with the same kind, layer and
 * contiguous host offsets are merged. Rows are produced on demand from a guest offset, forwards or backwards,
 * so the list can scroll through a multi-TiB disk without holding all its runs.
 */
import type { MapKind, MapRun } from '../shared/protocol';

export interface RunSource {
  readonly virtualSize: number;
  getMapping(offset: number): Promise<{ length: number; kind: MapKind; depth: number; file: string; hostOffset?: number; l1Index?: number; l2Index?: number }>;
}

/** Whether row `b` continues row `a` (same kind and layer, adjacent, host-contiguous when mapped). */
export function mergeable(a: MapRun, b: MapRun): boolean {
  if (a.kind !== b.kind || a.depth !== b.depth || a.file !== b.file || a.start + a.length !== b.start) return false;
  if (a.hostOffset === undefined || b.hostOffset === undefined) return a.hostOffset === b.hostOffset;
  return a.hostOffset + a.length === b.hostOffset;
}

/** Up to `count` merged rows from `from` (the first row starts at `from`), stopping at `end`. */
export async function runsFrom(src: RunSource, from: number, count: number, end = src.virtualSize): Promise<MapRun[]> {
  const rows: MapRun[] = [];
  let off = from;
  let pending: MapRun | undefined;
  while (off < end) {
    const m = await src.getMapping(off);
    const len = Math.min(Math.max(1, m.length), end - off);
    const run: MapRun = { start: off, length: len, kind: m.kind, depth: m.depth, file: m.file };
    if (m.hostOffset !== undefined) run.hostOffset = m.hostOffset;
    if (m.l1Index !== undefined) run.l1Index = m.l1Index;
    if (m.l2Index !== undefined) run.l2Index = m.l2Index;
    off += len;
    if (pending && mergeable(pending, run)) {
      pending.length += run.length;
      continue;
    }
    if (pending) {
      rows.push(pending);
      if (rows.length >= count) return rows;
    }
    pending = run;
  }
  if (pending && rows.length < count) rows.push(pending);
  return rows;
}

/**
 * The `count` rows that end at `before` (exclusive), for scrolling up. Scans forward from a window below
 * `before`, keeping only the last `count` rows; the window doubles until it holds enough rows.
 */
export async function runsBefore(src: RunSource, before: number, count: number, initialWindow: number): Promise<MapRun[]> {
  let window = Math.max(1, initialWindow);
  for (;;) {
    const lo = Math.max(0, before - window);
    const ring: MapRun[] = [];
    let off = lo;
    while (off < before) {
      const batch = await runsFrom(src, off, 64, before);
      if (batch.length === 0) break;
      // The last row of a batch may continue in the next batch: merge across the seam.
      for (const r of batch) {
        const last = ring[ring.length - 1];
        if (last && mergeable(last, r)) last.length += r.length;
        else ring.push(r);
        if (ring.length > count + 1) ring.shift();
      }
      const tail = batch[batch.length - 1];
      off = tail.start + tail.length;
    }
    // The first row may be cut by the window: only trust it when the window starts at 0 or there are spare rows.
    if (lo === 0 || ring.length > count) return ring.slice(-count);
    window *= 4;
  }
}
