/** Find hits on the map (issue #12): a dot in each cell that holds one or more hits of the hex view's "Find all". */
import type { MapSummary } from '../../src/shared/protocol';
import { rangeCells, type GuestRange } from '../../src/shared/extent-overlay';

/** The cells of the drawn grid that hold a hit (each once): the same mapping as the extents overlay (rangeCells). */
export function hitCells(offsets: readonly number[], s: MapSummary, cells: number): number[] {
  return rangeCells(
    offsets.map((o): GuestRange => [o, 1]),
    { start: s.start, end: s.end, cellBytes: s.bucketBytes },
    cells,
  );
}

/** Draws the dots; returns how many cells got one (the UI test reads it). */
export function drawHitMarkers(c: CanvasRenderingContext2D, s: MapSummary, offsets: readonly number[], cols: number, rows: number, cell: number): number {
  if (offsets.length === 0) return 0;
  const cells = hitCells(offsets, s, cols * rows);
  const fill = hitColor();
  const edge = getComputedStyle(document.body).getPropertyValue('--vscode-editor-background').trim() || '#000';
  // An orange dot with a thin ring of background, on a cell of any kind (the ring keeps it apart from it).
  const d = Math.max(3, Math.floor(cell / 2) + 1);
  for (const i of cells) {
    const x = (i % cols) * cell + Math.floor((cell - 1 - d) / 2);
    const y = Math.floor(i / cols) * cell + Math.floor((cell - 1 - d) / 2);
    c.fillStyle = edge;
    c.fillRect(x - 1, y - 1, d + 2, d + 2);
    c.fillStyle = fill;
    c.fillRect(x, y, d, d);
  }
  return cells.length;
}

/** Orange: apart from the kinds' blue, green and purple and the partitions' yellow, in every theme. */
export function hitColor(): string {
  return getComputedStyle(document.body).getPropertyValue('--vscode-charts-orange').trim() || '#d18616';
}
