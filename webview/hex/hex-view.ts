/**
 * The guest-disk hex view: composition and drawing. A fixed pool of row elements is redrawn from the page cache as
 * the top row moves. Its parts: the toolbar (toolbar.ts), the side panel with the data inspector and partition list
 * (side-panel.ts), the cursor and typing model (cursor-model.ts), input handling (input.ts) and partition marks
 * (partition-marks.ts). All text from the image goes through textContent.
 */
import type { HexHost, HostMessage } from '../../src/shared/protocol';
import type { PartitionTable } from '../../src/shared/partitions';
import { OwnerLookup } from './owner-lookup';
import { formatBytes, parseOffset } from '../../src/shared/format';
import { ScrollModel } from './scroll-model';
import { PageCache } from './page-cache';
import { HostLink } from './host-link';
import { byteHex, copyAsHex, copyAsText, formatOffset } from './row-layout';
import { installStyles, ROW_HEIGHT } from './styles';
import { t } from '../l10n';
import { autoBytesPerRow } from './row-fit';
import { el } from './dom';
import { CursorModel } from './cursor-model';
import { bindScrollbar, onGridKey, onGridMouse, wheelScroller, type HexInputHost } from './input';
import { partitionMarks, type PartitionMark } from './partition-marks';
import { HexToolbar } from './toolbar';
import { SidePanel } from './side-panel';
import { RowPool } from './row-pool';
import { loadHexState, type HexState } from './view-state';
import { HexTimer } from './timings';
import { PartitionFeed } from './partition-feed';

export type { HexTimings } from './timings';

/** Padding of a row around its character columns, px (.hx-off 6 + 12, .hx-txt 14, and room for the cursor outline). */
const ROW_PADDING_PX = 36;
/** Editors narrower than this start with the data inspector hidden (it takes 300 px). */
const NARROW_EDITOR_PX = 720;

/** Most bytes one copy takes (the host's clipboard message is bounded too). */
export const MAX_COPY_BYTES = 1024 * 1024;

export class HexView {
  readonly root = el('div', 'hx-root');
  private readonly model: ScrollModel;
  private readonly cache: PageCache;
  private readonly link: HostLink;
  private readonly grid = el('div', 'hx-grid');
  private readonly rowPool = new RowPool();
  private readonly track = el('div', 'hx-scroll');
  private readonly thumb = el('div', 'hx-thumb');
  /** Why edits are off (the image cannot be written now); hidden when they are on. */
  private readonly banner = el('div', 'hx-banner');
  private writeBlocked?: string;
  private readonly toolbar: HexToolbar;
  private readonly side: SidePanel;
  private readonly cursor: CursorModel;
  private readonly owner: OwnerLookup;
  /** Bytes per row drawn now (state.bytesPerRow, or what 'auto' fits). */
  private bpr: number;
  private trackHeight = 0;
  private charWidth = 0;
  private state: HexState;
  private sectorSize: number;
  private frame = 0;
  private readonly partitions = new PartitionFeed(
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
    this.bpr = this.state.bytesPerRow === 'auto' ? 16 : this.state.bytesPerRow;
    this.sectorSize = host.settings.sectorSize || 512;
    this.owner = new OwnerLookup(host);
    this.model = new ScrollModel(host.virtualSize, this.bpr, 1);
    this.cursor = new CursorModel(host.virtualSize);
    this.cursor.cursor = this.state.cursor;
    this.toolbar = new HexToolbar(this.state, {
      goToText: (text) => this.goToText(text),
      leaveGoto: () => this.grid.focus(),
      goToPartition: (i) => {
        const p = this.partitions.table?.partitions[i];
        if (p) this.goTo(p.start);
      },
      setMode: (m) => {
        this.state.mode = m;
        this.refit();
      },
      setBytesPerRow: (n) => {
        this.state.bytesPerRow = n;
        this.setRowWidth(n === 'auto' ? this.autoRowWidth() : n);
      },
      setGroup: (n) => {
        this.state.group = n;
        this.refit();
      },
      changed: () => {
        this.saveState();
        this.schedule();
      },
      copy: (as) => void this.copy(as),
      toggleInspector: () => {
        this.state.inspector = this.side.el.hidden;
        this.applyInspector();
        this.saveState();
      },
    });
    this.side = new SidePanel(
      this.state.littleEndian,
      (le) => {
        this.state.littleEndian = le;
        this.saveState();
        this.renderInspector();
      },
      (start) => {
        this.goTo(start);
        this.grid.focus();
      },
    );
    this.link = new HostLink(host, (m) => this.onHostMessage(m));
    this.cache = new PageCache((o, n) => this.link.read(o, n), host.virtualSize);
    this.cache.onLoaded = () => this.schedule();
    this.cache.onError = (err) => this.setStatus(String((err as Error).message ?? err), true);
    this.build();
    this.model.topRow = this.state.topRow;
    container.appendChild(this.root);
    window.addEventListener('resize', this.onWindowResize);
    this.resize = new ResizeObserver(() => this.layout());
    this.resize.observe(this.grid);
    this.layout();
    void this.scanPartitions();
  }

  // -------------------------------------------------------------------------------------------------------
  // Building the DOM
  // -------------------------------------------------------------------------------------------------------

  private build(): void {
    const body = el('div', 'hx-body');
    this.grid.tabIndex = 0;
    this.grid.setAttribute('role', 'grid');
    this.grid.setAttribute('aria-label', t('Guest disk bytes'));
    // Screen readers hear the cursor's offset and byte (the grid itself is drawn as merged spans).
    this.grid.setAttribute('aria-describedby', 'hx-live');
    this.grid.append(this.rowPool.head, this.rowPool.box);
    const input = this.inputHost();
    this.grid.addEventListener('keydown', (e) => onGridKey(e, input));
    this.grid.addEventListener('wheel', wheelScroller(input), { passive: false });
    this.grid.addEventListener('mousedown', (e) => onGridMouse(e, true, input));
    this.grid.addEventListener('mousemove', (e) => e.buttons === 1 && onGridMouse(e, false, input));
    this.grid.addEventListener('copy', (e) => {
      e.preventDefault();
      void this.copy(this.cursor.column);
    });
    this.track.append(this.thumb);
    bindScrollbar(this.track, this.thumb, input);
    body.append(this.grid, this.track, this.side.el);
    this.banner.setAttribute('role', 'alert');
    this.setWriteBlocked(this.host.writeBlocked);
    this.root.append(this.banner, this.toolbar.el, body);
  }

  /** What input.ts sees of the view. */
  private inputHost(): HexInputHost {
    return {
      model: this.model,
      cursor: this.cursor,
      grid: this.grid,
      bytesPerRow: () => this.bpr,
      charWidth: () => this.charWidth,
      hexLayout: () => this.rowPool.layout,
      trackHeight: () => this.trackHeight,
      moveCursor: (to, extend) => this.moveCursor(to, extend),
      redraw: () => this.schedule(),
      scrolled: () => {
        this.saveState();
        this.schedule();
      },
      typeKey: (key) => this.typeKey(key),
      copy: (as) => void this.copy(as),
      focusGoto: () => this.toolbar.focusGoto(),
    };
  }

  /** (Re)creates the pool of row elements for the current viewport and row width. */
  private rebuildRows(): void {
    this.rowPool.rebuild(this.model.viewRows, this.bpr, this.state.group, formatOffset(0, this.state.mode, this.model.size, this.sectorSize).length);
    this.schedule();
  }

  /** Fills the window below the view's top edge, whatever the container's CSS (its rows need a definite height). */
  private fitHeight(): void {
    const top = this.root.getBoundingClientRect().top;
    if (!this.root.isConnected || this.root.offsetParent === null) return; // hidden tab
    const h = Math.max(240, Math.floor(window.innerHeight - top - 6));
    if (Math.abs(this.root.offsetHeight - h) > 1) this.root.style.height = `${h}px`;
  }

  private layout(): void {
    this.fitHeight();
    this.trackHeight = this.track.clientHeight;
    const probe = el('span', undefined, '0'.repeat(64));
    this.grid.append(probe);
    this.charWidth = probe.getBoundingClientRect().width / 64 || 8;
    probe.remove();
    if (this.state.inspector === undefined && this.root.clientWidth > 0) {
      // First layout: the inspector starts hidden when it would leave the bytes too little room.
      this.state.inspector = this.root.clientWidth >= NARROW_EDITOR_PX;
      this.applyInspector();
    }
    if (this.state.bytesPerRow === 'auto' && this.grid.clientWidth > 0) {
      const n = this.autoRowWidth();
      if (n !== this.bpr) return this.setRowWidth(n);
    }
    const h = this.grid.clientHeight - ROW_HEIGHT; // minus the column header
    const n = Math.max(1, Math.floor(h / ROW_HEIGHT));
    if (n !== this.model.viewRows || this.rowPool.count === 0) {
      this.model.setViewRows(n);
      this.rebuildRows();
    }
    this.schedule();
  }

  /** What 'auto' fits in the grid's width now. */
  private autoRowWidth(): number {
    return autoBytesPerRow({
      widthPx: this.grid.clientWidth,
      charPx: this.charWidth || 8,
      offsetChars: formatOffset(0, this.state.mode, this.model.size, this.sectorSize).length,
      group: this.state.group,
      paddingPx: ROW_PADDING_PX,
    });
  }

  /** Redraws rows after the offset mode or grouping changed (what 'auto' fits changes with them). */
  private refit(): void {
    if (this.state.bytesPerRow === 'auto') this.setRowWidth(this.autoRowWidth());
    else this.rebuildRows();
  }

  private setRowWidth(n: number): void {
    this.bpr = n;
    this.model.setBytesPerRow(n);
    this.rebuildRows();
  }

  private applyInspector(): void {
    const shown = this.state.inspector !== false;
    this.side.el.hidden = !shown;
    this.toolbar.setInspectorShown(shown);
  }

  /** Scrolls the grid sideways so the cursor's byte is in view (rows wider than the grid scroll). */
  private revealCursorX(): void {
    const cur = this.rowPool.box.querySelector<HTMLElement>('.hx-cur');
    if (!cur || this.grid.scrollWidth <= this.grid.clientWidth) return;
    const g = this.grid.getBoundingClientRect();
    const r = cur.getBoundingClientRect();
    if (r.right > g.right) this.grid.scrollLeft += r.right - g.right + this.charWidth;
    else if (r.left < g.left) this.grid.scrollLeft -= g.left - r.left + this.charWidth;
  }

  // -------------------------------------------------------------------------------------------------------
  // Drawing
  // -------------------------------------------------------------------------------------------------------

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
      bpr: this.bpr,
      size: this.model.size,
      mode: this.state.mode,
      sectorSize: this.sectorSize,
      cursor: this.cursor,
      marks: this.boundaries,
      cache: this.cache,
      found: this.findMarks,
    });
    this.renderScrollbar();
    this.revealCursorX();
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
    this.timer.publish(this.root.dataset, { topOffset: this.model.topRow * this.bpr, bytesPerRow: this.bpr, cursor: this.cursor.cursor, complete });
    return complete;
  }

  private renderScrollbar(): void {
    const h = this.trackHeight;
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

  // -------------------------------------------------------------------------------------------------------
  // Navigation, selection, editing
  // -------------------------------------------------------------------------------------------------------

  /** Moves the cursor to `offset` and scrolls it into view (a third of the way down). */
  goTo(offset: number): void {
    const o = Math.min(Math.max(0, Math.floor(offset)), Math.max(0, this.model.size - 1));
    this.timer.startGoTo();
    this.root.dataset.gotoMs = '-1';
    this.root.dataset.complete = 'false';
    this.cursor.moveTo(o, false);
    this.model.centre(o);
    this.saveState();
    this.setStatus('');
    const [vs, ve] = this.model.visibleRange();
    void this.cache.ensure(vs, ve);
    this.schedule();
  }

  /** Selects [offset, offset + length) with the cursor on its first byte, scrolled into view (a Find hit). */
  selectRange(offset: number, length: number): void {
    this.goTo(offset);
    if (length > 1) this.cursor.anchor = Math.min(this.model.size - 1, offset + length - 1);
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

  private goToText(text: string): void {
    const off = parseOffset(text, this.sectorSize);
    if (off === undefined) return this.setStatus(t('Not an offset: {0}', text.slice(0, 40)), true);
    if (off >= this.model.size) return this.setStatus(t('Offset {0} is beyond the end of the disk ({1})', off, formatBytes(this.model.size)), true);
    this.goTo(off);
    this.grid.focus();
  }

  private moveCursor(to: number, extend: boolean): void {
    const o = this.cursor.moveTo(to, extend);
    if (!this.model.isVisible(o)) {
      // A jump (PageDown, Ctrl+End…): time it like go to.
      this.timer.startGoTo();
    }
    this.model.reveal(o);
    this.saveState();
    this.schedule();
  }

  /** Replace-only typing (cursor-model.ts); refused with the reason when the image cannot be written. */
  private typeKey(key: string): boolean {
    if (!this.host.editable || this.writeBlocked) {
      this.setStatus(this.writeBlocked ? t('Edits are off: {0}.', this.writeBlocked) : t('This editor is read-only'), true);
      return this.cursor.wouldEdit(key);
    }
    const r = this.cursor.type(key);
    if (r.kind === 'byte') this.commit(r.offset, r.byte);
    else if (r.kind === 'nibble') this.schedule();
    return r.kind !== 'ignored';
  }

  private commit(offset: number, byte: number): void {
    const bytes = Uint8Array.of(byte);
    this.cache.patch(offset, bytes);
    this.link.edit(offset, bytes, t('Edit byte at {0}', `0x${offset.toString(16)}`));
    this.moveCursor(offset + 1, false);
  }

  /** Scrolls so that the last row of the disk is at the bottom (the scrollbar's end). */
  scrollToEnd(): void {
    this.timer.startGoTo();
    this.model.setTopRow(this.model.maxTopRow);
    this.schedule();
  }

  private async copy(as: 'hex' | 'text'): Promise<void> {
    const [lo, hi] = this.cursor.selection();
    const n = hi - lo + 1;
    if (n > MAX_COPY_BYTES) return this.setStatus(t('Selection of {0} is too large to copy (limit {1})', formatBytes(n), formatBytes(MAX_COPY_BYTES)), true);
    try {
      const bytes = await this.cache.read(lo, n);
      this.link.copy(as === 'hex' ? copyAsHex(bytes, lo, this.bpr, this.state.group) : copyAsText(bytes));
      this.setStatus(t('Copied {0} bytes as {1}', n, as));
    } catch (err) {
      this.setStatus((err as Error).message, true);
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Partitions
  // -------------------------------------------------------------------------------------------------------

  private async scanPartitions(): Promise<void> {
    await this.partitions.scan((o, n) => this.cache.read(o, n), this.model.size, this.sectorSize);
  }

  onPartitions(f: (table: PartitionTable) => void): void {
    this.partitions.subscribe(f);
  }

  get partitionTable(): PartitionTable | undefined {
    return this.partitions.table;
  }

  private showPartitions(table: PartitionTable): void {
    this.side.showPartitions(table, this.sectorSize);
    this.toolbar.setPartitions(table, this.sectorSize);
    this.boundaries = partitionMarks(table);
    this.schedule();
  }

  // -------------------------------------------------------------------------------------------------------
  // Host messages, state, lifecycle
  // -------------------------------------------------------------------------------------------------------

  private onHostMessage(m: HostMessage): void {
    switch (m.type) {
      case 'hexEdited':
        // "Saved" would lie once there are unsaved edits again.
        if (m.dirty && this.toolbar.statusText === t('Saved')) this.setStatus('');
        this.cache.invalidate();
        this.schedule();
        break;
      case 'hexSaved':
      case 'refresh':
        this.cache.invalidate();
        this.schedule();
        void this.scanPartitions();
        if (m.type === 'hexSaved') this.setStatus(t('Saved'));
        break;
      case 'hexWritable':
        this.setWriteBlocked(m.blocked);
        break;
      case 'settings':
        if (m.settings.sectorSize && m.settings.sectorSize !== this.sectorSize) {
          this.sectorSize = m.settings.sectorSize;
          this.rebuildRows();
          void this.scanPartitions();
        }
        break;
      case 'showView':
        if (m.view === 'hex' && m.offset !== undefined) this.goTo(m.offset);
        break;
      case 'error':
        if (m.requestId === undefined) {
          // An edit the host refused: show it and drop the optimistic bytes.
          this.setStatus(m.message, true);
          this.cache.invalidate();
          this.schedule();
        }
        break;
    }
  }

  private setWriteBlocked(reason: string | undefined): void {
    this.writeBlocked = reason;
    this.banner.hidden = !reason;
    this.banner.textContent = reason ? t('Edits are off: {0}.', reason) : '';
    this.root.dataset.writeBlocked = reason ? 'true' : 'false';
    if (reason) this.cursor.nibble = undefined;
  }

  private setStatus(text: string, error = false): void {
    this.toolbar.setStatus(text, error);
  }

  private saveTimer?: ReturnType<typeof setTimeout>;
  private saveState(): void {
    this.state.topRow = this.model.topRow;
    this.state.cursor = this.cursor.cursor;
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.host.setState({ ...this.state, topRow: this.model.topRow, cursor: this.cursor.cursor });
    }, 200);
  }

  private readonly onWindowResize = (): void => this.layout();

  focus(): void {
    this.layout();
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
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.link.dispose();
    this.owner.dispose();
    this.root.remove();
  }
}
