/**
 * "Auto" bytes per row (#20 point 5, #16 item 6): the most bytes a row can show in the grid's width, so the offset,
 * every byte column and the text column fit without scrolling. Pure, unit-tested.
 */
import { hexColumnLayout } from './row-paint';

/** Row widths "auto" chooses from: powers of two, so rows stay aligned to sectors and structures. */
export const AUTO_ROW_CHOICES = [4, 8, 16, 32, 64] as const;

export interface RowMetrics {
  /** Grid width available for a row, px. */
  widthPx: number;
  /** Width of one monospace character, px. */
  charPx: number;
  /** Characters of the offset column. */
  offsetChars: number;
  /** Byte grouping (1, 2, 4, 8). */
  group: number;
  /** Fixed padding of a row, px (offset column's and text column's padding). */
  paddingPx: number;
}

/** Width in px of a row of `bytes` bytes. */
export function rowWidthPx(bytes: number, m: RowMetrics): number {
  return m.paddingPx + m.charPx * (m.offsetChars + hexColumnLayout(bytes, m.group).width + bytes);
}

/** The widest choice that fits; the narrowest when none does (the grid then scrolls sideways). */
export function autoBytesPerRow(m: RowMetrics): number {
  let best: number = AUTO_ROW_CHOICES[0];
  for (const n of AUTO_ROW_CHOICES) if (rowWidthPx(n, m) <= m.widthPx) best = n;
  return best;
}
