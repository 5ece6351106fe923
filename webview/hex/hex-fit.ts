/**
 * The hex view's geometry: the view's height in the window, how many rows fit, how wide a row is ('auto' fits the
 * grid's width), the character width the mouse and the scrollbar need, and keeping the cursor's byte in view
 * sideways. The view (hex-view.ts) owns the parts; this only measures and sizes them.
 */
import { el } from './dom';
import { autoBytesPerRow } from './row-fit';
import { formatOffset } from './row-layout';
import type { RowPool } from './row-pool';
import type { ScrollModel } from './scroll-model';
import { ROW_HEIGHT } from './styles';
import type { HexState } from './view-state';

/** Padding of a row around its character columns, px (.hx-off 6 + 12, .hx-txt 14, and room for the cursor outline). */
const ROW_PADDING_PX = 36;
/** Editors narrower than this start with the data inspector hidden (it takes 300 px). */
const NARROW_EDITOR_PX = 720;

/** What the geometry measures and resizes. */
export interface FitParts {
  readonly root: HTMLElement;
  readonly grid: HTMLElement;
  readonly track: HTMLElement;
  readonly model: ScrollModel;
  readonly rowPool: RowPool;
  readonly state: HexState;
  sectorSize(): number;
  /** Shows or hides the data inspector as state.inspector says. */
  applyInspector(): void;
  redraw(): void;
}

export class HexFit {
  /** Bytes per row drawn now (state.bytesPerRow, or what 'auto' fits). */
  bpr: number;
  trackHeight = 0;
  charWidth = 0;

  constructor(private readonly p: FitParts) {
    this.bpr = p.state.bytesPerRow === 'auto' ? 16 : p.state.bytesPerRow;
  }

  /** Measures the view and rebuilds the rows when the number that fits, or the 'auto' width, changed. */
  layout(): void {
    const { root, grid, model, rowPool, state } = this.p;
    this.fitHeight();
    this.trackHeight = this.p.track.clientHeight;
    const probe = el('span', undefined, '0'.repeat(64));
    grid.append(probe);
    this.charWidth = probe.getBoundingClientRect().width / 64 || 8;
    probe.remove();
    if (state.inspector === undefined && root.clientWidth > 0) {
      // First layout: the inspector starts hidden when it would leave the bytes too little room.
      state.inspector = root.clientWidth >= NARROW_EDITOR_PX;
      this.p.applyInspector();
    }
    if (state.bytesPerRow === 'auto' && grid.clientWidth > 0) {
      const n = this.autoRowWidth();
      if (n !== this.bpr) return this.setRowWidth(n);
    }
    const h = grid.clientHeight - ROW_HEIGHT; // minus the column header
    const n = Math.max(1, Math.floor(h / ROW_HEIGHT));
    if (n !== model.viewRows || rowPool.count === 0) {
      model.setViewRows(n);
      this.rebuildRows();
    }
    this.p.redraw();
  }

  /** Fills the window below the view's top edge, whatever the container's CSS (its rows need a definite height). */
  private fitHeight(): void {
    const root = this.p.root;
    const top = root.getBoundingClientRect().top;
    if (!root.isConnected || root.offsetParent === null) return; // hidden tab
    const h = Math.max(240, Math.floor(window.innerHeight - top - 6));
    if (Math.abs(root.offsetHeight - h) > 1) root.style.height = `${h}px`;
  }

  /** Width of the offset column in characters, for the current offset mode. */
  private offsetChars(): number {
    return formatOffset(0, this.p.state.mode, this.p.model.size, this.p.sectorSize()).length;
  }

  /** What 'auto' fits in the grid's width now. */
  autoRowWidth(): number {
    return autoBytesPerRow({
      widthPx: this.p.grid.clientWidth,
      charPx: this.charWidth || 8,
      offsetChars: this.offsetChars(),
      group: this.p.state.group,
      paddingPx: ROW_PADDING_PX,
    });
  }

  /** (Re)creates the pool of row elements for the current viewport and row width. */
  rebuildRows(): void {
    this.p.rowPool.rebuild(this.p.model.viewRows, this.bpr, this.p.state.group, this.offsetChars());
    this.p.redraw();
  }

  /** Redraws rows after the offset mode or grouping changed (what 'auto' fits changes with them). */
  refit(): void {
    if (this.p.state.bytesPerRow === 'auto') this.setRowWidth(this.autoRowWidth());
    else this.rebuildRows();
  }

  setRowWidth(n: number): void {
    this.bpr = n;
    this.p.model.setBytesPerRow(n);
    this.rebuildRows();
  }

  /** Scrolls the grid sideways so the cursor's byte is in view (rows wider than the grid scroll). */
  revealCursorX(): void {
    const grid = this.p.grid;
    const cur = this.p.rowPool.box.querySelector<HTMLElement>('.hx-cur');
    if (!cur || grid.scrollWidth <= grid.clientWidth) return;
    const g = grid.getBoundingClientRect();
    const r = cur.getBoundingClientRect();
    if (r.right > g.right) grid.scrollLeft += r.right - g.right + this.charWidth;
    else if (r.left < g.left) grid.scrollLeft -= g.left - r.left + this.charWidth;
  }
}
