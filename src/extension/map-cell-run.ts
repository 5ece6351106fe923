/**
 * The run under a map cell, for the hover card and the click: the first run inside the cell with the kind and
 * layer the cell is painted with, whole (a run list row as qemu-img map merges it, not cut at the cell's edges),
 * and where a click should open the hex view: that run's first byte, or the cell's first byte when the run began in
 * an earlier cell (so a click on a long run lands where the pointer is, not gigabytes before it).
 */
import type { MapKind, MapRun } from '../shared/protocol';
import { mergeable, runsBefore, runsFrom, type RunSource } from './map-runs';

/** Most mapping runs looked at inside one cell before settling for the cell's first run (a bound for hover). */
export const MAX_CELL_RUNS = 4096;

export interface CellRun {
  run: MapRun;
  /** Where a click on the cell opens the hex view. */
  clickOffset: number;
}

function sameClass(kind: MapKind, depth: number, wantKind: MapKind, wantDepth: number): boolean {
  return kind === wantKind && (kind === 'unallocated' || depth === wantDepth);
}

/**
 * The run painted in cell [cellStart, cellEnd): the first run there of (`kind`, `depth`), or the cell's first run
 * when none matches (the cell was repainted since). `window` is where runsBefore starts looking back.
 */
export async function runUnderCell(src: RunSource, cellStart: number, cellEnd: number, kind: MapKind, depth: number, window: number): Promise<CellRun> {
  const end = Math.min(cellEnd, src.virtualSize);
  let at = cellStart;
  let found = cellStart;
  for (let n = 0; at < end && n < MAX_CELL_RUNS; n++) {
    const m = await src.getMapping(at);
    if (sameClass(m.kind, m.depth, kind, depth)) {
      found = at;
      break;
    }
    at += Math.max(1, m.length);
  }
  // The whole row: it may begin before the cell (the row ending at `found` merges into it) and go on past it.
  let rowStart = found;
  if (found > 0) {
    const [prev] = await runsBefore(src, found, 1, window);
    const [here] = await runsFrom(src, found, 1, Math.min(src.virtualSize, found + 1));
    if (prev && here && mergeable(prev, here)) rowStart = prev.start;
  }
  const [run] = await runsFrom(src, rowStart, 1);
  return { run, clickOffset: Math.max(run.start, cellStart) };
}
