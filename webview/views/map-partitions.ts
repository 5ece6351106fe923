/** Guest partitions on the map (from the hex view's MBR/GPT scan, H6): a yellow mark on the cell where each starts and ends. */
import type { MapSummary } from '../../src/shared/protocol';

export interface PartitionSpan {
  start: number;
  end: number;
  label: string;
}

export function drawPartitionBoundaries(
  c: CanvasRenderingContext2D,
  s: MapSummary,
  parts: readonly PartitionSpan[],
  cols: number,
  rows: number,
  cell: number,
): void {
  const bucketBytes = s.bucketBytes;
  if (parts.length === 0 || bucketBytes <= 0) return;
  c.fillStyle = partitionColor();
  for (const p of parts) {
    for (const [at, left] of [
      [p.start, true],
      [p.end, false],
    ] as const) {
      if (at < s.start || at > s.end) continue;
      const i = Math.min(Math.floor((at - s.start) / bucketBytes), cols * rows - 1);
      const x = (i % cols) * cell;
      const y = Math.floor(i / cols) * cell;
      c.fillRect(left ? x : x + cell - 3, y - 1, 2, cell + 1);
    }
  }
}

export function partitionColor(): string {
  return getComputedStyle(document.body).getPropertyValue('--vscode-charts-yellow') || '#cca700';
}
