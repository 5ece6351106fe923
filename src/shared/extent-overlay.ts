/**
 * The map's overlay of one guest file's extents ("Show extents on the map", issue #13): the host joins the file's
 * extents into at most MAX_OVERLAY_RANGES guest-disk ranges before they go to the webview, so a fragmented (or
 * hostile) file with millions of extents still sends a small message. Pure: no vscode, no DOM.
 */

/** Most ranges one overlay message carries; beyond this the nearest ranges are joined (the gaps between them drawn too). */
export const MAX_OVERLAY_RANGES = 1024;

/** [guest-disk offset, length] in bytes. */
export type GuestRange = [number, number];

export interface ExtentOverlay {
  volume: string;
  path: string;
  /** Sorted by offset, non-overlapping, non-adjacent. */
  ranges: GuestRange[];
  /** How many extents the file has (before joining). */
  extents: number;
  /** Bytes of the file's extents (not counting joined gaps). */
  bytes: number;
  /** Extents left as they are: ranges.length; the rest were joined with a neighbour. */
  joined: number;
}

/**
 * Sorts and merges touching or overlapping extents, then, while more than `max` remain, joins across the smallest
 * gaps (all of the smallest at once: O(n log n), never a loop per join).
 */
export function coalesceExtents(
  extents: readonly { diskOffset: number; length: number }[],
  max = MAX_OVERLAY_RANGES,
): { ranges: GuestRange[]; extents: number; bytes: number; joined: number } {
  // Typed arrays and one index sort (skipped when already in disk order, as most files are): 200,000 extents in ms.
  const n = extents.length;
  let order: ArrayLike<number> = Uint32Array.from({ length: n }, (_, i) => i);
  let inOrder = true;
  for (let i = 1; i < n && inOrder; i++) inOrder = extents[i - 1].diskOffset <= extents[i].diskOffset;
  if (!inOrder) {
    const at = Float64Array.from(extents, (e) => e.diskOffset);
    order = (order as Uint32Array).sort((x, y) => at[x] - at[y]);
  }
  const starts: number[] = [];
  const ends: number[] = [];
  let bytes = 0;
  for (let k = 0; k < n; k++) {
    const e = extents[order[k]];
    if (!(e.length > 0) || !(e.diskOffset >= 0)) continue;
    const end = e.diskOffset + e.length;
    const last = ends.length - 1;
    if (last >= 0 && e.diskOffset <= ends[last]) {
      if (end > ends[last]) {
        bytes += end - ends[last];
        ends[last] = end;
      }
    } else {
      starts.push(e.diskOffset);
      ends.push(end);
      bytes += e.length;
    }
  }
  const m = starts.length;
  const limit = Math.max(1, Math.floor(max));
  if (m <= limit) return { ranges: starts.map((s, i): GuestRange => [s, ends[i] - s]), extents: n, bytes, joined: 0 };
  // Keep the (limit - 1) widest gaps as splits and join over the rest; ties go to the earlier gap.
  const gaps = new Float64Array(m - 1);
  for (let i = 1; i < m; i++) gaps[i - 1] = starts[i] - ends[i - 1];
  const threshold = Float64Array.from(gaps).sort()[m - 1 - (limit - 1)];
  let wider = 0;
  for (const g of gaps) if (g > threshold) wider++;
  let tiesLeft = limit - 1 - wider;
  const out: GuestRange[] = [[starts[0], ends[0] - starts[0]]];
  for (let i = 1; i < m; i++) {
    const g = gaps[i - 1];
    const split = g > threshold || (g === threshold && tiesLeft-- > 0);
    if (split) out.push([starts[i], ends[i] - starts[i]]);
    else out[out.length - 1][1] = ends[i] - out[out.length - 1][0];
  }
  return { ranges: out, extents: n, bytes, joined: m - out.length };
}

/** The cells of a map grid (cell i covers [start + i·cellBytes, …), `cells` of them) that any range touches, each once, sorted. */
export function rangeCells(ranges: readonly GuestRange[], grid: { start: number; end: number; cellBytes: number }, cells: number): number[] {
  if (grid.cellBytes <= 0 || cells <= 0) return [];
  const out = new Set<number>();
  const lastCell = cells - 1;
  for (const [at, len] of ranges) {
    const from = Math.max(at, grid.start);
    const to = Math.min(at + Math.max(1, len), grid.end);
    if (from >= to) continue;
    const first = Math.floor((from - grid.start) / grid.cellBytes);
    const last = Math.min(lastCell, Math.floor((to - 1 - grid.start) / grid.cellBytes));
    // Bounded by the grid: at most `cells` distinct cells however many ranges there are.
    for (let i = first; i <= last && out.size < cells; i++) out.add(i);
  }
  return [...out].sort((a, b) => a - b);
}
