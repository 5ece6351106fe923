/**
 * Virtual scrolling over a disk of any size. Browsers cap element heights around 2^25 px, far below the rows
 * of a multi-TiB disk (2^38 rows of 16 bytes for 4 TiB), so nothing is laid out at full height: the view
 * keeps a top row number and draws its own scrollbar whose thumb position maps linearly to that row.
 * Pure (no DOM), unit-tested.
 */

export const MIN_THUMB_PX = 18;

export class ScrollModel {
  /** First visible row. */
  topRow = 0;

  constructor(
    public size: number,
    public bytesPerRow = 16,
    /** Rows that fit in the viewport. */
    public viewRows = 1,
  ) {}

  get totalRows(): number {
    return Math.max(1, Math.ceil(this.size / this.bytesPerRow));
  }

  get maxTopRow(): number {
    return Math.max(0, this.totalRows - this.viewRows);
  }

  setTopRow(row: number): void {
    this.topRow = Math.min(this.maxTopRow, Math.max(0, Math.floor(row)));
  }

  scrollBy(rows: number): void {
    this.setTopRow(this.topRow + rows);
  }

  rowOf(offset: number): number {
    return Math.floor(offset / this.bytesPerRow);
  }

  /** Byte range drawn now, [start, end). */
  visibleRange(): [number, number] {
    const start = this.topRow * this.bytesPerRow;
    return [start, Math.min(this.size, start + this.viewRows * this.bytesPerRow)];
  }

  isVisible(offset: number): boolean {
    const r = this.rowOf(offset);
    return r >= this.topRow && r < this.topRow + this.viewRows;
  }

  /** Scrolls the least needed to show `offset` (for cursor moves). */
  reveal(offset: number): void {
    const r = this.rowOf(offset);
    if (r < this.topRow) this.setTopRow(r);
    else if (r >= this.topRow + this.viewRows) this.setTopRow(r - this.viewRows + 1);
  }

  /** Puts `offset` a third of the way down the view (for "go to"). */
  centre(offset: number): void {
    this.setTopRow(this.rowOf(offset) - Math.floor(this.viewRows / 3));
  }

  /** Changing the row width keeps the first visible byte in view. */
  setBytesPerRow(bpr: number): void {
    const first = this.topRow * this.bytesPerRow;
    this.bytesPerRow = bpr;
    this.setTopRow(this.rowOf(first));
  }

  setViewRows(n: number): void {
    this.viewRows = Math.max(1, n);
    this.setTopRow(this.topRow);
  }

  /** Thumb size and position for a track `trackPx` high. */
  thumb(trackPx: number): { top: number; height: number } {
    const height = Math.min(trackPx, Math.max(MIN_THUMB_PX, Math.round((trackPx * this.viewRows) / this.totalRows)));
    const free = trackPx - height;
    const top = this.maxTopRow === 0 ? 0 : (this.topRow / this.maxTopRow) * free;
    return { top, height };
  }

  /** The top row for a thumb dragged to `thumbTop` px (the inverse of thumb()). */
  topRowForThumb(thumbTop: number, trackPx: number): number {
    const { height } = this.thumb(trackPx);
    const free = trackPx - height;
    const frac = free <= 0 ? 0 : Math.min(1, Math.max(0, thumbTop / free));
    return Math.round(frac * this.maxTopRow);
  }
}
