/**
 * The guest-disk hex view: composition and drawing. A fixed pool of row elements is redrawn from the page cache as
 * the top row moves. Its parts: the toolbar (toolbar.ts), the side panel with the data inspector and partition list
 * (side-panel.ts), the cursor and typing model (cursor-model.ts), input handling (input.ts), partition marks
 * (partition-marks.ts), the geometry (hex-fit.ts) and typing and copying (hex-edits.ts). All text from the image
 * goes through textContent.
 */
import type { HexHost, HostMessage } from '../../src/shared/protocol';
import type { PartitionTable } from '../../src/shared/partitions';
import { OwnerLookup } from './owner-lookup';
import { ScrollModel } from './scroll-model';
import { PageCache } from './page-cache';
import { HostLink } from './host-link';
import { byteHex } from './row-layout';
import { installStyles } from './styles';
import { t } from '../l10n';
import { el } from './dom';
import { CursorModel } from './cursor-model';
import { bindGridInput, type HexInputHost } from './input';
import { partitionMarks, type PartitionMark } from './partition-marks';
import type { HexToolbar } from './toolbar';
import type { SidePanel } from './side-panel';
import { makePanels } from './hex-panels';
import { applyHostMessage } from './hex-host-messages';
import { RowPool } from './row-pool';
import { loadHexState, type HexState } from './view-state';
import { HexTimer } from './timings';
import { PartitionFeed } from './partition-feed';
import { HexFit } from './hex-fit';
import { HexEdits } from './hex-edits';
import { HexNavigator } from './hex-navigation';

export type { HexTimings } from './timings';
export { MAX_COPY_BYTES } from './hex-edits';

export class HexView {
  readonly root = el('div', 'hx-root');
  private readonly model: ScrollModel;
  private readonly cache: PageCache;
  private readonly link: HostLink;
  private readonly grid = el('div', 'hx-grid');
  private readonly rowPool = new RowPool();
  private readonly track = el('div', 'hx-scroll');
  private readonly thumb = el('div', 'hx-thumb');
  private readonly toolbar: HexToolbar;
  private readonly side: SidePanel;
  private readonly cursor: CursorModel;
  private readonly owner: OwnerLookup;
  private readonly fit: HexFit;
  private readonly edits: HexEdits;
  private readonly nav: HexNavigator;
  private state: HexState;
  private sectorSize: number;
  private frame = 0;
  /** The guest partition table, scanned from the bytes (subscribe for it and its rescans). */
  readonly partitions = new PartitionFeed(
    (table) => this.showPartitions(table),
    (message) => this.side.showPartitionError(message),
  );
  private boundaries: PartitionMark[] = [];
  private readonly resize: ResizeObserver;
  private readonly timer = new HexTimer();
  /** What the UI tests and the bench read. */
  readonly timings = this.timer.timings;
  /** Find hits to mark in a row, per byte: 0, MARK_HIT or MARK_CURRENT (find-bar.ts). */
  findMarks?: (start: number, n: number) => Uint8Array | undefined;

  constructor(
    private readonly container: HTMLElement,
    private readonly host: HexHost,
  ) {
    installStyles(document);
    this.state = loadHexState(host.getState(), host.virtualSize);
    this.sectorSize = host.settings.sectorSize || 512;
    this.owner = new OwnerLookup(host);
    this.model = new ScrollModel(host.virtualSize, this.state.bytesPerRow === 'auto' ? 16 : this.state.bytesPerRow, 1);
    this.cursor = new CursorModel(host.virtualSize);
    this.cursor.cursor = this.state.cursor;
    // What the parts (geometry, navigation, edits) share of the view.
    const parts = {
      host,
      root: this.root,
      grid: this.grid,
      track: this.track,
      model: this.model,
      rowPool: this.rowPool,
      cursor: this.cursor,
      timer: this.timer,
      state: this.state,
      sectorSize: () => this.sectorSize,
      setStatus: (text: string, error?: boolean) => this.setStatus(text, error),
      applyInspector: () => this.applyInspector(),
      redraw: () => this.schedule(),
    };
    this.fit = new HexFit(parts);
    ({ toolbar: this.toolbar, side: this.side } = makePanels({
      state: this.state,
      fit: this.fit,
      goToText: (text) => this.nav.goToText(text),
      goTo: (offset) => this.goTo(offset),
      partitionStart: (i) => this.partitions.table?.partitions[i]?.start,
      focusGrid: () => this.grid.focus(),
      copy: (as) => void this.copy(as),
      applyInspector: () => this.applyInspector(),
      renderInspector: () => this.renderInspector(),
      saveState: () => this.nav.saveState(),
      redraw: () => this.schedule(),
    }));
    this.link = new HostLink(host, (m) => this.onHostMessage(m));
    this.cache = new PageCache((o, n) => this.link.read(o, n), host.virtualSize);
    this.cache.onLoaded = () => this.schedule();
    this.cache.onError = (err) => this.setStatus(String((err as Error).message ?? err), true);
    this.nav = new HexNavigator({ ...parts, cache: this.cache });
    this.edits = new HexEdits({ ...parts, cache: this.cache, link: this.link, moveCursor: (to, extend) => this.nav.moveCursor(to, extend) });
    this.build();
    this.model.topRow = this.state.topRow;
    container.appendChild(this.root);
    window.addEventListener('resize', this.onWindowResize);
    this.resize = new ResizeObserver(() => this.fit.layout());
    this.resize.observe(this.grid);
    this.fit.layout();
    void this.scanPartitions();
  }

  // --- Building the DOM ---

  private build(): void {
    const body = el('div', 'hx-body');
    this.grid.tabIndex = 0;
    this.grid.setAttribute('role', 'grid');
    this.grid.setAttribute('aria-label', t('Guest disk bytes'));
    // Screen readers hear the cursor's offset and byte (the grid itself is drawn as merged spans).
    this.grid.setAttribute('aria-describedby', 'hx-live');
    this.grid.append(this.rowPool.head, this.rowPool.box);
    this.track.append(this.thumb);
    bindGridInput(this.grid, this.track, this.thumb, this.inputHost());
    body.append(this.grid, this.track, this.side.el);
    this.edits.setWriteBlocked(this.host.writeBlocked);
    this.root.append(this.edits.banner, this.toolbar.el, body);
  }

  /** What input.ts sees of the view. */
  private inputHost(): HexInputHost {
    return {
      model: this.model,
      cursor: this.cursor,
      grid: this.grid,
      bytesPerRow: () => this.fit.bpr,
      charWidth: () => this.fit.charWidth,
      hexLayout: () => this.rowPool.layout,
      trackHeight: () => this.fit.trackHeight,
      moveCursor: (to, extend) => this.nav.moveCursor(to, extend),
      redraw: () => this.schedule(),
      scrolled: () => {
        this.nav.saveState();
        this.schedule();
      },
      typeKey: (key) => this.edits.typeKey(key),
      copy: (as) => void this.copy(as),
      focusGoto: () => this.toolbar.focusGoto(),
    };
  }

  private applyInspector(): void {
    const shown = this.state.inspector !== false;
    this.side.el.hidden = !shown;
    this.toolbar.setInspectorShown(shown);
  }

  // --- Drawing ---

  private schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  /** Draws now (tests and the bench call it directly). Returns true when every visible byte was loaded. */
  render(): boolean {
    const t0 = performance.now();
    const complete = this.rowPool.paint({
      topRow: this.model.topRow,
      bpr: this.fit.bpr,
      size: this.model.size,
      mode: this.state.mode,
      sectorSize: this.sectorSize,
      cursor: this.cursor,
      marks: this.boundaries,
      cache: this.cache,
      found: this.findMarks,
    });
    this.renderScrollbar();
    this.fit.revealCursorX();
    this.renderInspector();
    this.announce();
    const [vs, ve] = this.model.visibleRange();
    if (!complete) void this.cache.ensure(vs, ve);
    else {
      // Scrolling a screen either way should not wait for the host.
      const screen = ve - vs;
      this.cache.prefetch(ve + screen);
      this.cache.prefetch(vs - screen);
    }
    this.timer.rendered(performance.now() - t0, complete, this.cache.stats);
    this.timer.publish(this.root.dataset, { topOffset: this.model.topRow * this.fit.bpr, bytesPerRow: this.fit.bpr, cursor: this.cursor.cursor, complete });
    return complete;
  }

  private renderScrollbar(): void {
    const h = this.fit.trackHeight;
    const th = this.model.thumb(h);
    this.thumb.style.top = `${th.top}px`;
    this.thumb.style.height = `${th.height}px`;
  }

  private announce(): void {
    const c = this.cursor.cursor;
    const b = this.cache.byteAt(c);
    this.toolbar.announce(
      t('Offset {0}, LBA {1}, byte {2}', `0x${c.toString(16)}`, Math.floor(c / this.sectorSize), b === undefined ? '…' : `0x${byteHex(b)}`),
    );
  }

  private renderInspector(): void {
    const c = this.cursor.cursor;
    const bytes: number[] = [];
    for (let i = 0; i < 16 && c + i < this.model.size; i++) {
      const b = this.cache.byteAt(c + i);
      if (b === undefined) break;
      bytes.push(b);
    }
    this.side.showBytes(c, this.sectorSize, Uint8Array.from(bytes), this.state.littleEndian, this.owner.update(c));
  }

  // --- Navigation, selection, editing ---

  /** Moves the cursor to `offset` and scrolls it into view (a third of the way down). */
  goTo(offset: number): void {
    this.nav.goTo(offset);
  }

  /** Selects [offset, offset + length) with the cursor on its first byte, scrolled into view (a Find hit). */
  selectRange(offset: number, length: number): void {
    this.nav.selectRange(offset, length);
  }

  /** The cursor's guest offset. */
  get cursorOffset(): number {
    return this.cursor.cursor;
  }

  get sectorBytes(): number {
    return this.sectorSize;
  }

  redraw(): void {
    this.schedule();
  }

  /** Scrolls so that the last row of the disk is at the bottom (the scrollbar's end). */
  scrollToEnd(): void {
    this.nav.scrollToEnd();
  }

  private async copy(as: 'hex' | 'text'): Promise<void> {
    await this.edits.copy(as, this.fit.bpr, this.state.group);
  }

  // --- Partitions ---

  private async scanPartitions(): Promise<void> {
    await this.partitions.scan((o, n) => this.cache.read(o, n), this.model.size, this.sectorSize);
  }

  private showPartitions(table: PartitionTable): void {
    this.side.showPartitions(table, this.sectorSize);
    this.toolbar.setPartitions(table, this.sectorSize);
    this.boundaries = partitionMarks(table);
    this.schedule();
  }

  // --- Host messages, state, lifecycle ---

  private onHostMessage(m: HostMessage): void {
    applyHostMessage(m, {
      statusText: () => this.toolbar.statusText,
      setStatus: (text, error) => this.setStatus(text, error),
      invalidate: () => this.cache.invalidate(),
      redraw: () => this.schedule(),
      rescanPartitions: () => void this.scanPartitions(),
      setWriteBlocked: (reason) => this.edits.setWriteBlocked(reason),
      setSectorSize: (n) => {
        this.sectorSize = n;
        this.fit.rebuildRows();
      },
      sectorSize: () => this.sectorSize,
      goTo: (offset) => this.goTo(offset),
    });
  }

  private setStatus(text: string, error = false): void {
    this.toolbar.setStatus(text, error);
  }

  private readonly onWindowResize = (): void => this.fit.layout();

  focus(): void {
    this.fit.layout();
    this.grid.focus();
  }

  focusGoto(): void {
    this.toolbar.focusGoto();
  }

  /** Starts the fetch-time and cache-size figures afresh (the bench ignores its warm-up). */
  resetTimings(): void {
    this.timer.reset(this.cache.stats);
  }

  dispose(): void {
    this.resize.disconnect();
    window.removeEventListener('resize', this.onWindowResize);
    if (this.frame) cancelAnimationFrame(this.frame);
    this.nav.dispose();
    this.link.dispose();
    this.owner.dispose();
    this.root.remove();
  }
}
