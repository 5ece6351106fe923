/** The hex grid's keyboard, wheel and mouse handling, and the custom scrollbar's dragging, over a narrow host. */
import type { CursorModel } from './cursor-model';
import { navigationMove } from './cursor-model';
import { byteAtHexColumn, type HexColumnLayout } from './row-paint';
import type { ScrollModel } from './scroll-model';
import { ROW_HEIGHT } from './styles';

/** What input handling needs of the view. */
export interface HexInputHost {
  readonly model: ScrollModel;
  readonly cursor: CursorModel;
  readonly grid: HTMLElement;
  bytesPerRow(): number;
  charWidth(): number;
  hexLayout(): HexColumnLayout;
  trackHeight(): number;
  moveCursor(to: number, extend: boolean): void;
  /** Draw again soon. */
  redraw(): void;
  /** The top row moved: remember it and draw. */
  scrolled(): void;
  /** A printable key in the grid; true when it was taken (as an edit, or refused with a reason). */
  typeKey(key: string): boolean;
  copy(as: 'hex' | 'text'): void;
  focusGoto(): void;
}

export function onGridKey(e: KeyboardEvent, h: HexInputHost): void {
  const ctrl = e.ctrlKey || e.metaKey;
  const { cursor, model } = h;
  const nav = navigationMove(e.key, ctrl, cursor.cursor, h.bytesPerRow(), model.viewRows, model.size);
  let handled = true;
  if (nav) {
    if (nav.scrollRows) model.scrollBy(nav.scrollRows);
    h.moveCursor(nav.to, e.shiftKey);
  } else if (e.key === 'Tab') {
    cursor.toggleColumn();
    h.redraw();
  } else if (e.key === 'Escape') {
    cursor.clear();
    h.redraw();
  } else if (ctrl && (e.key === 'g' || e.key === 'G')) {
    h.focusGoto();
  } else if (ctrl && (e.key === 'c' || e.key === 'C')) {
    h.copy(cursor.column);
  } else if (ctrl && (e.key === 'a' || e.key === 'A')) {
    // Select-all of a multi-TiB disk is never wanted: swallow it.
  } else if (!ctrl && !e.altKey && e.key.length === 1) {
    handled = h.typeKey(e.key);
  } else {
    handled = false;
  }
  if (handled) {
    e.preventDefault();
    e.stopPropagation();
  }
}

/** Wheel scrolling by whole rows (the remainder is kept for the next event). */
export function wheelScroller(h: HexInputHost): (e: WheelEvent) => void {
  let rest = 0;
  return (e) => {
    // Sideways (Shift+wheel, touchpads): the browser scrolls a row wider than the grid.
    if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) return;
    e.preventDefault();
    const rows = e.deltaMode === 1 ? e.deltaY : e.deltaMode === 2 ? e.deltaY * h.model.viewRows : e.deltaY / ROW_HEIGHT;
    rest += rows;
    const whole = Math.trunc(rest);
    if (whole !== 0) {
      rest -= whole;
      h.model.scrollBy(whole);
      h.scrolled();
    }
  };
}

/** A press (down) or a drag over the grid: the byte under the pointer becomes the cursor, or extends the selection. */
export function onGridMouse(e: MouseEvent, down: boolean, h: HexInputHost): void {
  const target = e.target as HTMLElement;
  const rowEl = target.closest<HTMLElement>('.hx-row');
  const box = target.closest<HTMLElement>('.hx-hex, .hx-txt');
  const cw = h.charWidth();
  if (!rowEl?.dataset.r || !box || !cw) return;
  const bpr = h.bytesPerRow();
  const col = Math.floor((e.clientX - box.getBoundingClientRect().left) / cw);
  const isText = box.dataset.t === '1';
  const i = isText ? Math.min(bpr - 1, Math.max(0, col)) : byteAtHexColumn(Math.max(0, col), h.hexLayout());
  const off = (h.model.topRow + Number(rowEl.dataset.r)) * bpr + i;
  if (off >= h.model.size) return;
  if (down) {
    h.cursor.column = isText ? 'text' : 'hex';
    h.grid.focus();
    e.preventDefault();
  }
  h.moveCursor(off, !down || e.shiftKey);
}

/** The custom scrollbar: drag the thumb anywhere over the whole disk; a click on the track pages. */
export function bindScrollbar(track: HTMLElement, thumb: HTMLElement, h: HexInputHost): void {
  let dragFrom: { y: number; top: number } | undefined;
  thumb.addEventListener('pointerdown', (e) => {
    e.preventDefault();
    e.stopPropagation();
    thumb.setPointerCapture(e.pointerId);
    thumb.classList.add('hx-drag');
    dragFrom = { y: e.clientY, top: h.model.thumb(h.trackHeight()).top };
  });
  thumb.addEventListener('pointermove', (e) => {
    if (!dragFrom) return;
    h.model.setTopRow(h.model.topRowForThumb(dragFrom.top + e.clientY - dragFrom.y, h.trackHeight()));
    h.redraw();
  });
  const end = () => {
    dragFrom = undefined;
    thumb.classList.remove('hx-drag');
    h.scrolled();
  };
  thumb.addEventListener('pointerup', end);
  thumb.addEventListener('pointercancel', end);
  track.addEventListener('pointerdown', (e) => {
    if (e.target !== track) return;
    const th = h.model.thumb(h.trackHeight());
    const y = e.clientY - track.getBoundingClientRect().top;
    h.model.scrollBy(y < th.top ? -h.model.viewRows : h.model.viewRows);
    h.scrolled();
  });
}

/** All of the grid's input: keys, wheel, mouse selection, the clipboard's copy (as the cursor's column) and the scrollbar. */
export function bindGridInput(grid: HTMLElement, track: HTMLElement, thumb: HTMLElement, h: HexInputHost): void {
  grid.addEventListener('keydown', (e) => onGridKey(e, h));
  grid.addEventListener('wheel', wheelScroller(h), { passive: false });
  grid.addEventListener('mousedown', (e) => onGridMouse(e, true, h));
  grid.addEventListener('mousemove', (e) => e.buttons === 1 && onGridMouse(e, false, h));
  grid.addEventListener('copy', (e) => {
    e.preventDefault();
    h.copy(h.cursor.column);
  });
  bindScrollbar(track, thumb, h);
}
