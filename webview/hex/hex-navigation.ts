/**
 * Moving through the hex view: go to an offset (typed, from a partition, a Find hit or the host), cursor moves
 * from the keyboard and mouse, scrolling to the end, and keeping the cursor and top row in the webview state
 * (saved at most every 200 ms) so a reload comes back to the same place.
 */
import type { HexHost } from '../../src/shared/protocol';
import { formatBytes, parseOffset } from '../../src/shared/format';
import { t } from '../l10n';
import type { CursorModel } from './cursor-model';
import type { PageCache } from './page-cache';
import type { ScrollModel } from './scroll-model';
import type { HexTimer } from './timings';
import type { HexState } from './view-state';

export interface NavParts {
  readonly host: HexHost;
  readonly root: HTMLElement;
  readonly grid: HTMLElement;
  readonly model: ScrollModel;
  readonly cursor: CursorModel;
  readonly cache: PageCache;
  readonly timer: HexTimer;
  readonly state: HexState;
  sectorSize(): number;
  setStatus(text: string, error?: boolean): void;
  redraw(): void;
}

export class HexNavigator {
  private saveTimer?: ReturnType<typeof setTimeout>;

  constructor(private readonly p: NavParts) {}

  /** Moves the cursor to `offset` and scrolls it into view (a third of the way down). */
  goTo(offset: number): void {
    const { model, cursor, root } = this.p;
    const o = Math.min(Math.max(0, Math.floor(offset)), Math.max(0, model.size - 1));
    this.p.timer.startGoTo();
    root.dataset.gotoMs = '-1';
    root.dataset.complete = 'false';
    cursor.moveTo(o, false);
    model.centre(o);
    this.saveState();
    this.p.setStatus('');
    const [vs, ve] = model.visibleRange();
    void this.p.cache.ensure(vs, ve);
    this.p.redraw();
  }

  /** Selects [offset, offset + length) with the cursor on its first byte, scrolled into view (a Find hit). */
  selectRange(offset: number, length: number): void {
    this.goTo(offset);
    if (length > 1) this.p.cursor.anchor = Math.min(this.p.model.size - 1, offset + length - 1);
  }

  /** The go-to box's text: an offset in any form parseOffset takes, or a one-line reason in the status. */
  goToText(text: string): void {
    const size = this.p.model.size;
    const off = parseOffset(text, this.p.sectorSize());
    if (off === undefined) return this.p.setStatus(t('Not an offset: {0}', text.slice(0, 40)), true);
    if (off >= size) return this.p.setStatus(t('Offset {0} is beyond the end of the disk ({1})', off, formatBytes(size)), true);
    this.goTo(off);
    this.p.grid.focus();
  }

  moveCursor(to: number, extend: boolean): void {
    const o = this.p.cursor.moveTo(to, extend);
    if (!this.p.model.isVisible(o)) {
      // A jump (PageDown, Ctrl+End…): time it like go to.
      this.p.timer.startGoTo();
    }
    this.p.model.reveal(o);
    this.saveState();
    this.p.redraw();
  }

  /** Scrolls so that the last row of the disk is at the bottom (the scrollbar's end). */
  scrollToEnd(): void {
    this.p.timer.startGoTo();
    this.p.model.setTopRow(this.p.model.maxTopRow);
    this.p.redraw();
  }

  saveState(): void {
    const { state, model, cursor } = this.p;
    state.topRow = model.topRow;
    state.cursor = cursor.cursor;
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.p.host.setState({ ...state, topRow: model.topRow, cursor: cursor.cursor });
    }, 200);
  }

  dispose(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
  }
}
