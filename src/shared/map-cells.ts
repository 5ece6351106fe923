/**
 * The map's cell grid: which guest bytes each canvas cell stands for. Cells are a power of two bytes long (at least
 * one 512-byte sector) and start at multiples of their size, so on any disk size a cell is a whole number of
 * sectors, or a power-of-two number of clusters once cells are a cluster or larger, and a cluster-aligned run is
 * never split at an odd byte (#20: cells of 0x3fb425f5–0x40000007 on a 20 GiB disk). Pure: the host summarises
 * with it and the webview draws and hit-tests with it, so both agree cell for cell.
 */

export const MIN_CELL_BYTES = 512;

export interface MapGrid {
  /** Guest offset of cell 0: `start` of the asked range rounded down to a multiple of `cellBytes`. */
  start: number;
  /** Bytes per cell: a power of two, >= MIN_CELL_BYTES. */
  cellBytes: number;
  /** Cells that cover [start, end) (<= the most asked for). */
  count: number;
  /** End of the last cell's bytes on the disk: min(virtual size, start + count * cellBytes). */
  end: number;
}

/**
 * The finest grid of at most `maxCells` power-of-two cells that covers guest range [start, end) of a disk of
 * `diskSize` bytes. The bytes shown are [grid.start, grid.end), which contains [start, end).
 */
export function mapGrid(start: number, end: number, maxCells: number, diskSize: number): MapGrid {
  const hi = Math.min(Math.max(end, start + 1), Math.max(diskSize, 1));
  const lo = Math.max(0, Math.min(start, hi - 1));
  const cells = Math.max(1, Math.floor(maxCells));
  let cellBytes = MIN_CELL_BYTES;
  // Smallest power of two that could do (2^k >= span / cells), then grow while the aligned start needs one more cell.
  while (cellBytes * cells < hi - lo) cellBytes *= 2;
  for (;;) {
    const first = Math.floor(lo / cellBytes) * cellBytes;
    const count = Math.ceil((hi - first) / cellBytes);
    if (count <= cells) return { start: first, cellBytes, count, end: Math.min(Math.max(diskSize, hi), first + count * cellBytes) };
    cellBytes *= 2;
  }
}

/** Guest byte range [from, to) of cell `i` of a grid (the last cell stops at the disk's end). */
export function cellRange(grid: MapGrid, i: number): { from: number; to: number } {
  const from = grid.start + i * grid.cellBytes;
  return { from, to: Math.min(grid.end, from + grid.cellBytes) };
}

/** The cell holding guest offset `offset`, or -1 outside the grid. */
export function cellAt(grid: MapGrid, offset: number): number {
  if (offset < grid.start || offset >= grid.end) return -1;
  return Math.floor((offset - grid.start) / grid.cellBytes);
}
