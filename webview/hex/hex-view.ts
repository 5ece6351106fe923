/**
 * The guest-disk hex view: a fixed pool of row elements redrawn from the page cache as the top row moves,
 * a custom scrollbar over the whole disk, keyboard and mouse navigation, replace-only editing, copy,
 * the data inspector and the partition list. All text from the image goes through textContent.
 */
import type { HexHost, HostMessage } from '../../src/shared/protocol';
import { SOURCE_KINDS, KIND_LABELS } from '../../src/shared/kinds';
import { inspectBytes, printable } from '../../src/shared/inspector';
import { OwnerLookup } from './owner-lookup';
import { scanPartitions, type PartitionTable } from '../../src/shared/partitions';
import { formatBytes, parseOffset } from '../../src/shared/format';
import { ScrollModel } from './scroll-model';
import { PageCache } from './page-cache';
import { HostLink } from './host-link';
import { BYTES_PER_ROW_CHOICES, GROUP_CHOICES, byteHex, copyAsHex, copyAsText, formatOffset, hexDigit, type OffsetMode } from './row-layout';
import { installStyles, ROW_HEIGHT } from './styles';
import { partitionCells, unitNote } from '../../src/shared/partition-display';
import { t } from '../l10n';
import { byteAtHexColumn, hexColumnLayout, Pieces, SpanPool, type HexColumnLayout } from './row-paint';
import { autoBytesPerRow } from './row-fit';

/** Padding of a row around its character columns, px (.hx-off 6 + 12, .hx-txt 14, and room for the cursor outline). */
const ROW_PADDING_PX = 36;
/** Editors narrower than this start with the data inspector hidden (it takes 300 px). */
const NARROW_EDITOR_PX = 720;

/** Most bytes one copy takes (the host's clipboard message is bounded too). */
export const MAX_COPY_BYTES = 1024 * 1024;

interface HexState {
  cursor: number;
  topRow: number;
  mode: OffsetMode;
  /** A fixed width, or 'auto' (the default): the widest row the grid's width shows whole (row-fit.ts). */
  bytesPerRow: number | 'auto';
  group: number;
  littleEndian: boolean;
  /** Data inspector side panel shown; undefined until the user chooses (then: shown unless the editor is narrow). */
  inspector?: boolean;
}

interface RowEls {
  el: HTMLElement;
  off: HTMLElement;
  hex: SpanPool;
  txt: SpanPool;
  mark: HTMLElement;
}

/** Timings the UI test and the bench read (also mirrored on the root element as data-* attributes). */
export interface HexTimings {
  lastGoToMs: number;
  /** Time of the last redraw itself (DOM updates), ms. */
  lastRenderMs: number;
  maxFetchMs: number;
  cachePages: number;
  peakCachePages: number;
}

function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export class HexView {
  readonly root = el('div', 'hx-root');
  private readonly model: ScrollModel;
  private readonly cache: PageCache;
  private readonly link: HostLink;
  private readonly grid = el('div', 'hx-grid');
  private readonly head = el('div', 'hx-row hx-head');
  private readonly rowsBox = el('div', 'hx-rows');
  private readonly track = el('div', 'hx-scroll');
  private readonly thumb = el('div', 'hx-thumb');
  private readonly status = el('span', 'hx-status');
  /** Why edits are off (the image cannot be written now); hidden when they are on. */
  private readonly banner = el('div', 'hx-banner');
  private writeBlocked?: string;
  /** Screen readers hear the cursor's offset and byte (the grid itself is drawn as merged spans). */
  private readonly live = el('span', 'hx-live');
  private lastAnnounced = '';
  private readonly gotoInput = el('input', 'hx-goto');
  private readonly inspector = el('tbody');
  private readonly owner: OwnerLookup;
  private readonly partsBody = el('tbody');
  private readonly partsNote = el('div');
  private readonly partSelect = el('select');
  private lbaHead?: HTMLElement;
  private rows: RowEls[] = [];
  /** Bytes per row drawn now (state.bytesPerRow, or what 'auto' fits). */
  private bpr: number;
  private readonly side = el('div', 'hx-side');
  private readonly inspectorToggle = el('button', 'hx-ins-toggle');
  private hexLayout: HexColumnLayout = hexColumnLayout(16, 1);
  private readonly hexPieces = new Pieces();
  private readonly txtPieces = new Pieces();
  private trackHeight = 0;
  private charWidth = 0;
  private state: HexState;
  private sectorSize: number;
  private anchor?: number;
  private column: 'hex' | 'text' = 'hex';
  private nibble?: { offset: number; high: number };
  private frame = 0;
  private wheelRest = 0;
  private gotoStart?: number;
  private partitions?: PartitionTable;
  private boundaries: Array<{ offset: number; label: string }> = [];
  private readonly resize: ResizeObserver;
  readonly timings: HexTimings = { lastGoToMs: -1, lastRenderMs: 0, maxFetchMs: 0, cachePages: 0, peakCachePages: 0 };
  private partitionListeners: Array<(t: PartitionTable) => void> = [];

  constructor(
    private readonly container: HTMLElement,
    private readonly host: HexHost,
  ) {
    installStyles(document);
    const saved = (host.getState() ?? {}) as Partial<HexState>;
    this.state = {
      cursor: clampInt(saved.cursor, 0, Math.max(0, host.virtualSize - 1), 0),
      topRow: clampInt(saved.topRow, 0, Number.MAX_SAFE_INTEGER, 0),
      mode: saved.mode === 'dec' || saved.mode === 'lba' ? saved.mode : 'hex',
      bytesPerRow: (BYTES_PER_ROW_CHOICES as readonly number[]).includes(saved.bytesPerRow as number) ? saved.bytesPerRow! : 'auto',
      group: (GROUP_CHOICES as readonly number[]).includes(saved.group as number) ? saved.group! : 1,
      littleEndian: saved.littleEndian !== false,
      inspector: typeof saved.inspector === 'boolean' ? saved.inspector : undefined,
    };
    this.bpr = this.state.bytesPerRow === 'auto' ? 16 : this.state.bytesPerRow;
    this.sectorSize = host.settings.sectorSize || 512;
    this.owner = new OwnerLookup(host);
    this.model = new ScrollModel(host.virtualSize, this.bpr, 1);
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
    const bar = el('div', 'hx-toolbar');
    this.gotoInput.placeholder = t('offset, 0x…, 4K, lba 2048');
    this.gotoInput.setAttribute('aria-label', t('Go to offset or LBA (Ctrl+G)'));
    this.gotoInput.addEventListener('keydown', (e) => {
      // Keys we handle stay here; others reach VS Code's keybindings (Ctrl+S saves from the box too).
      if (e.key === 'Enter') this.goToText(this.gotoInput.value);
      else if (e.key === 'Escape') this.grid.focus();
      else return;
      e.stopPropagation();
    });
    const go = el('button', undefined, t('Go'));
    go.addEventListener('click', () => this.goToText(this.gotoInput.value));
    this.partSelect.setAttribute('aria-label', t('Go to partition'));
    this.partSelect.addEventListener('change', () => {
      const p = this.partitions?.partitions[Number(this.partSelect.value)];
      if (p) this.goTo(p.start);
      this.partSelect.value = '';
    });
    const mode = this.select(
      t('Offsets'),
      [
        ['hex', t('hex')],
        ['dec', t('decimal')],
        ['lba', t('LBA')],
      ],
      this.state.mode,
      (v) => {
        this.state.mode = v as OffsetMode;
        this.refit();
      },
    );
    const bpr = this.select(
      t('Bytes/row'),
      [['auto', t('auto')], ...BYTES_PER_ROW_CHOICES.map((n): [string, string] => [String(n), String(n)])],
      String(this.state.bytesPerRow),
      (v) => {
        this.state.bytesPerRow = v === 'auto' ? 'auto' : Number(v);
        this.setRowWidth(v === 'auto' ? this.autoRowWidth() : Number(v));
      },
    );
    this.inspectorToggle.textContent = t('Inspector');
    this.inspectorToggle.title = t('Show or hide the data inspector and partition list');
    this.inspectorToggle.addEventListener('click', () => {
      this.state.inspector = this.side.hidden;
      this.applyInspector();
      this.saveState();
    });
    const grp = this.select(
      t('Group'),
      GROUP_CHOICES.map((n) => [String(n), String(n)]),
      String(this.state.group),
      (v) => {
        this.state.group = Number(v);
        this.refit();
      },
    );
    const copyHex = el('button', undefined, t('Copy hex'));
    copyHex.addEventListener('click', () => void this.copy('hex'));
    const copyText = el('button', undefined, t('Copy text'));
    copyText.addEventListener('click', () => void this.copy('text'));
    this.status.setAttribute('role', 'status');
    bar.append(this.gotoInput, go, this.partSelect, mode, bpr, grp, copyHex, copyText, this.inspectorToggle, this.status, this.live);

    const body = el('div', 'hx-body');
    this.grid.tabIndex = 0;
    this.grid.setAttribute('role', 'grid');
    this.grid.setAttribute('aria-label', t('Guest disk bytes'));
    this.live.id = 'hx-live';
    this.live.setAttribute('aria-live', 'polite');
    this.grid.setAttribute('aria-describedby', 'hx-live');
    this.grid.append(this.head, this.rowsBox);
    this.grid.addEventListener('keydown', (e) => this.onKey(e));
    this.grid.addEventListener('wheel', (e) => this.onWheel(e), { passive: false });
    this.grid.addEventListener('mousedown', (e) => this.onMouse(e, true));
    this.grid.addEventListener('mousemove', (e) => e.buttons === 1 && this.onMouse(e, false));
    this.grid.addEventListener('copy', (e) => {
      e.preventDefault();
      void this.copy(this.column === 'hex' ? 'hex' : 'text');
    });
    this.track.append(this.thumb);
    this.setupScrollbar();
    body.append(this.grid, this.track, this.buildSide());
    this.side.id = 'hx-side';
    this.inspectorToggle.setAttribute('aria-controls', 'hx-side');
    this.banner.setAttribute('role', 'alert');
    this.setWriteBlocked(this.host.writeBlocked);
    this.root.append(this.banner, bar, body);
  }

  private select(label: string, options: Array<[string, string]>, value: string, onChange: (v: string) => void): HTMLElement {
    const wrap = el('label', undefined, label + ' ');
    const s = el('select');
    for (const [v, text] of options) {
      const o = el('option', undefined, text);
      o.value = v;
      s.append(o);
    }
    s.value = value;
    s.addEventListener('change', () => {
      onChange(s.value);
      this.saveState();
      this.schedule();
    });
    wrap.append(s);
    return wrap;
  }

  private buildSide(): HTMLElement {
    const side = this.side;
    const endian = el('select');
    for (const [v, label] of [
      ['le', t('little-endian')],
      ['be', t('big-endian')],
    ]) {
      const o = el('option', undefined, label);
      o.value = v;
      endian.append(o);
    }
    endian.value = this.state.littleEndian ? 'le' : 'be';
    endian.setAttribute('aria-label', t('Byte order'));
    endian.addEventListener('change', () => {
      this.state.littleEndian = endian.value === 'le';
      this.saveState();
      this.renderInspector();
    });
    const insTable = el('table', 'hx-ins');
    insTable.append(this.inspector);
    const partsTable = el('table', 'hx-parts');
    const ph = el('thead');
    const hr = el('tr');
    for (const h of ['#', t('name / type'), t('LBA range'), t('size')]) hr.append(el('th', undefined, h));
    this.lbaHead = hr.children[2] as HTMLElement;
    ph.append(hr);
    partsTable.append(ph, this.partsBody);
    const legend = el('div', 'hx-legend');
    SOURCE_KINDS.forEach((k, i) => {
      const item = el('span');
      item.append(el('span', `hx-sw hx-sw${i}`), document.createTextNode(t(KIND_LABELS[k])));
      legend.append(item);
    });
    const edited = el('span');
    edited.append(el('span', 'hx-sw hx-sw-edit'), document.createTextNode(t('unsaved edit')));
    legend.append(edited);
    side.append(
      el('h3', undefined, t('Data inspector')),
      endian,
      insTable,
      el('h3', undefined, t('Partitions')),
      this.partsNote,
      partsTable,
      el('h3', undefined, t('Legend')),
      legend,
    );
    return side;
  }

  /** (Re)creates the pool of row elements for the current viewport and row width. */
  private rebuildRows(): void {
    const bpr = this.bpr;
    this.hexLayout = hexColumnLayout(bpr, this.state.group);
    const n = this.model.viewRows;
    this.rowsBox.textContent = '';
    this.rows = [];
    for (let r = 0; r < n; r++) {
      const hexBox = el('span', 'hx-hex');
      const txtBox = el('span', 'hx-txt');
      txtBox.dataset.t = '1';
      const row: RowEls = {
        el: el('div', 'hx-row'),
        off: el('span', 'hx-off'),
        hex: new SpanPool(hexBox),
        txt: new SpanPool(txtBox),
        mark: el('span', 'hx-mark'),
      };
      row.el.dataset.r = String(r);
      row.el.setAttribute('role', 'row');
      row.el.append(row.off, hexBox, txtBox, row.mark);
      this.rows.push(row);
      this.rowsBox.append(row.el);
    }
    // Column header: byte positions within the row, laid out like the bytes.
    this.head.textContent = '';
    const off = el('span', 'hx-off', formatOffset(0, this.state.mode, this.model.size, this.sectorSize).replace(/./g, ' '));
    let hexHead = '';
    for (let i = 0; i < bpr; i++) hexHead += this.hexLayout.seps[i] + byteHex(i);
    this.head.append(off, el('span', 'hx-hex', hexHead), el('span', 'hx-txt', t('text').padEnd(bpr, ' ')));
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
    if (n !== this.model.viewRows || this.rows.length === 0) {
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
    this.side.hidden = !shown;
    this.inspectorToggle.setAttribute('aria-expanded', String(shown));
    this.inspectorToggle.classList.toggle('hx-on', shown);
  }

  /** Scrolls the grid sideways so the cursor's byte is in view (rows wider than the grid scroll). */
  private revealCursorX(): void {
    const cur = this.rowsBox.querySelector<HTMLElement>('.hx-cur');
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
    const { mode } = this.state;
    const bpr = this.bpr;
    const size = this.model.size;
    const [selLo, selHi] = this.selection();
    const cursor = this.state.cursor;
    let complete = true;
    const { seps } = this.hexLayout;
    const hp = this.hexPieces;
    const tp = this.txtPieces;
    const hexCur = this.column === 'hex' ? ' hx-cur' : '';
    const txtCur = this.column === 'text' ? ' hx-cur' : '';
    for (let r = 0; r < this.rows.length; r++) {
      const row = this.rows[r];
      const start = (this.model.topRow + r) * bpr;
      if (start >= size) {
        row.el.style.visibility = 'hidden';
        continue;
      }
      row.el.style.visibility = '';
      row.off.textContent = formatOffset(start, mode, size, this.sectorSize);
      const marks = this.boundariesIn(start, start + bpr);
      row.el.classList.toggle('hx-pstart', marks.length > 0 && marks[0].offset === start);
      row.mark.textContent = marks.length ? marks.map((m) => m.label).join(' · ') : '';
      // The label may be cut at the grid's edge: the whole of it on hover (#20 point 6).
      row.mark.title = row.mark.textContent;
      hp.reset();
      tp.reset();
      let page = this.cache.get(this.cache.pageIndex(start));
      let prevSel = false;
      for (let i = 0; i < bpr; i++) {
        const off = start + i;
        const selected = off >= selLo && off <= selHi;
        if (i > 0 && seps[i]) hp.add(seps[i], prevSel && selected ? 'hx-sel' : '');
        prevSel = selected;
        if (off >= size) {
          hp.add('  ', '');
          tp.add(' ', '');
          continue;
        }
        if (page && off >= page.offset + page.data.length) page = this.cache.get(this.cache.pageIndex(off));
        const sel = selected ? ' hx-sel' : '';
        const isCur = off === cursor;
        const pb = marks.length > 0 && marks.some((m) => m.offset === off) ? ' hx-pb' : '';
        if (!page) {
          complete = false;
          hp.add('··', 'hx-loading' + sel + (isCur ? hexCur : ''));
          tp.add('·', 'hx-loading' + sel + (isCur ? txtCur : ''));
          continue;
        }
        if (page.stale) complete = false;
        const at = off - page.offset;
        const b = page.data[at];
        const k = 'hx-k' + page.kinds[at] + (page.edited?.[at] ? ' hx-edit' : '');
        if (isCur && this.nibble && this.nibble.offset === off) hp.add(this.nibble.high.toString(16) + '_', k + ' hx-nib' + sel + ' hx-cur');
        else hp.add(HEX2[b], k + sel + pb + (isCur ? hexCur : ''));
        tp.add(PRINTABLE[b], k + sel + (isCur ? txtCur : ''));
      }
      row.hex.paint(hp);
      row.txt.paint(tp);
    }
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
    this.timings.lastRenderMs = performance.now() - t0;
    this.publishTimings(complete);
    return complete;
  }

  private publishTimings(complete: boolean): void {
    if (complete && this.gotoStart !== undefined) {
      this.timings.lastGoToMs = performance.now() - this.gotoStart;
      this.gotoStart = undefined;
    }
    this.timings.maxFetchMs = this.cache.stats.maxFetchMs;
    this.timings.cachePages = this.cache.stats.pages;
    this.timings.peakCachePages = this.cache.stats.peakPages;
    const d = this.root.dataset;
    d.gotoMs = this.timings.lastGoToMs.toFixed(1);
    d.renderMs = this.timings.lastRenderMs.toFixed(2);
    d.maxFetchMs = this.timings.maxFetchMs.toFixed(1);
    d.cachePages = String(this.timings.cachePages);
    d.peakCachePages = String(this.timings.peakCachePages);
    d.topOffset = String(this.model.topRow * this.bpr);
    d.bytesPerRow = String(this.bpr);
    d.cursor = String(this.state.cursor);
    d.complete = String(complete);
  }

  private renderScrollbar(): void {
    const h = this.trackHeight;
    const th = this.model.thumb(h);
    this.thumb.style.top = `${th.top}px`;
    this.thumb.style.height = `${th.height}px`;
  }

  private announce(): void {
    const c = this.state.cursor;
    const b = this.cache.byteAt(c);
    const text = t('Offset {0}, LBA {1}, byte {2}', `0x${c.toString(16)}`, Math.floor(c / this.sectorSize), b === undefined ? '…' : `0x${byteHex(b)}`);
    if (text !== this.lastAnnounced) this.live.textContent = this.lastAnnounced = text;
  }

  private renderInspector(): void {
    const bytes: number[] = [];
    for (let i = 0; i < 16 && this.state.cursor + i < this.model.size; i++) {
      const b = this.cache.byteAt(this.state.cursor + i);
      if (b === undefined) break;
      bytes.push(b);
    }
    const rows = inspectBytes(Uint8Array.from(bytes), this.state.littleEndian);
    this.inspector.textContent = '';
    const at = el('tr');
    at.append(el('td', undefined, 'offset'), el('td', 'hx-v', `0x${this.state.cursor.toString(16)} (LBA ${Math.floor(this.state.cursor / this.sectorSize)})`));
    this.inspector.append(at, this.owner.update(this.state.cursor));
    for (const r of rows) {
      const tr = el('tr');
      tr.append(el('td', undefined, r.label), el('td', 'hx-v', r.value));
      this.inspector.append(tr);
    }
  }

  // -------------------------------------------------------------------------------------------------------
  // Navigation, selection, editing
  // -------------------------------------------------------------------------------------------------------

  /** Moves the cursor to `offset` and scrolls it into view (a third of the way down). */
  goTo(offset: number): void {
    const o = Math.min(Math.max(0, Math.floor(offset)), Math.max(0, this.model.size - 1));
    this.gotoStart = performance.now();
    this.timings.lastGoToMs = -1;
    this.root.dataset.gotoMs = '-1';
    this.root.dataset.complete = 'false';
    this.nibble = undefined;
    this.anchor = undefined;
    this.state.cursor = o;
    this.model.centre(o);
    this.saveState();
    this.setStatus('');
    const [vs, ve] = this.model.visibleRange();
    void this.cache.ensure(vs, ve);
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
    const o = Math.min(Math.max(0, to), Math.max(0, this.model.size - 1));
    if (extend) this.anchor ??= this.state.cursor;
    else this.anchor = undefined;
    this.nibble = undefined;
    if (!this.model.isVisible(o)) {
      // A jump (PageDown, Ctrl+End…): time it like go to.
      this.gotoStart = performance.now();
      this.timings.lastGoToMs = -1;
    }
    this.state.cursor = o;
    this.model.reveal(o);
    this.saveState();
    this.schedule();
  }

  private selection(): [number, number] {
    if (this.anchor === undefined) return [this.state.cursor, this.state.cursor];
    return [Math.min(this.anchor, this.state.cursor), Math.max(this.anchor, this.state.cursor)];
  }

  private onKey(e: KeyboardEvent): void {
    const bpr = this.bpr;
    const c = this.state.cursor;
    const page = this.model.viewRows * bpr;
    const ctrl = e.ctrlKey || e.metaKey;
    let handled = true;
    switch (e.key) {
      case 'ArrowLeft':
        this.moveCursor(c - 1, e.shiftKey);
        break;
      case 'ArrowRight':
        this.moveCursor(c + 1, e.shiftKey);
        break;
      case 'ArrowUp':
        this.moveCursor(c - bpr, e.shiftKey);
        break;
      case 'ArrowDown':
        this.moveCursor(c + bpr, e.shiftKey);
        break;
      case 'PageUp':
        this.model.scrollBy(-this.model.viewRows);
        this.moveCursor(c - page, e.shiftKey);
        break;
      case 'PageDown':
        this.model.scrollBy(this.model.viewRows);
        this.moveCursor(c + page, e.shiftKey);
        break;
      case 'Home':
        this.moveCursor(ctrl ? 0 : c - (c % bpr), e.shiftKey);
        break;
      case 'End':
        this.moveCursor(ctrl ? this.model.size - 1 : c - (c % bpr) + bpr - 1, e.shiftKey);
        break;
      case 'Tab':
        this.column = this.column === 'hex' ? 'text' : 'hex';
        this.nibble = undefined;
        this.schedule();
        break;
      case 'Escape':
        this.anchor = undefined;
        this.nibble = undefined;
        this.schedule();
        break;
      default:
        handled = false;
    }
    if (!handled && ctrl && (e.key === 'g' || e.key === 'G')) {
      this.gotoInput.focus();
      this.gotoInput.select();
      handled = true;
    } else if (!handled && ctrl && (e.key === 'c' || e.key === 'C')) {
      void this.copy(this.column === 'hex' ? 'hex' : 'text');
      handled = true;
    } else if (!handled && ctrl && (e.key === 'a' || e.key === 'A')) {
      handled = true; // select-all of a multi-TiB disk is never wanted; swallow it
    } else if (!handled && !ctrl && !e.altKey && e.key.length === 1) {
      handled = this.typeKey(e.key);
    }
    if (handled) {
      e.preventDefault();
      e.stopPropagation();
    }
  }

  /** Replace-only typing: two hex digits per byte in the hex column, one character in the text column. */
  private typeKey(key: string): boolean {
    if (!this.host.editable || this.writeBlocked) {
      this.setStatus(this.writeBlocked ? t('Edits are off: {0}.', this.writeBlocked) : t('This editor is read-only'), true);
      return hexDigit(key) !== undefined || this.column === 'text';
    }
    const c = this.state.cursor;
    if (this.column === 'hex') {
      const d = hexDigit(key);
      if (d === undefined) return false;
      if (!this.nibble || this.nibble.offset !== c) {
        this.nibble = { offset: c, high: d };
        this.schedule();
        return true;
      }
      this.commit(c, (this.nibble.high << 4) | d);
      return true;
    }
    const code = key.charCodeAt(0);
    if (code < 0x20 || code > 0x7e) return false;
    this.commit(c, code);
    return true;
  }

  private commit(offset: number, byte: number): void {
    this.nibble = undefined;
    const bytes = Uint8Array.of(byte);
    this.cache.patch(offset, bytes);
    this.link.edit(offset, bytes, t('Edit byte at {0}', `0x${offset.toString(16)}`));
    this.moveCursor(offset + 1, false);
  }

  private onWheel(e: WheelEvent): void {
    // Sideways (Shift+wheel, touchpads): the browser scrolls a row wider than the grid.
    if (e.shiftKey || Math.abs(e.deltaX) > Math.abs(e.deltaY)) return;
    e.preventDefault();
    const rows = e.deltaMode === 1 ? e.deltaY : e.deltaMode === 2 ? e.deltaY * this.model.viewRows : e.deltaY / ROW_HEIGHT;
    this.wheelRest += rows;
    const whole = Math.trunc(this.wheelRest);
    if (whole !== 0) {
      this.wheelRest -= whole;
      this.model.scrollBy(whole);
      this.saveState();
      this.schedule();
    }
  }

  private onMouse(e: MouseEvent, down: boolean): void {
    const target = e.target as HTMLElement;
    const rowEl = target.closest<HTMLElement>('.hx-row');
    const box = target.closest<HTMLElement>('.hx-hex, .hx-txt');
    if (!rowEl?.dataset.r || !box || !this.charWidth) return;
    const col = Math.floor((e.clientX - box.getBoundingClientRect().left) / this.charWidth);
    const isText = box.dataset.t === '1';
    const i = isText ? Math.min(this.bpr - 1, Math.max(0, col)) : byteAtHexColumn(Math.max(0, col), this.hexLayout);
    const off = (this.model.topRow + Number(rowEl.dataset.r)) * this.bpr + i;
    if (off >= this.model.size) return;
    if (down) {
      this.column = isText ? 'text' : 'hex';
      this.grid.focus();
      e.preventDefault();
    }
    this.moveCursor(off, !down || e.shiftKey);
  }

  private setupScrollbar(): void {
    let dragFrom: { y: number; top: number } | undefined;
    this.thumb.addEventListener('pointerdown', (e) => {
      e.preventDefault();
      e.stopPropagation();
      this.thumb.setPointerCapture(e.pointerId);
      this.thumb.classList.add('hx-drag');
      dragFrom = { y: e.clientY, top: this.model.thumb(this.trackHeight).top };
    });
    this.thumb.addEventListener('pointermove', (e) => {
      if (!dragFrom) return;
      this.model.setTopRow(this.model.topRowForThumb(dragFrom.top + e.clientY - dragFrom.y, this.trackHeight));
      this.schedule();
    });
    const end = () => {
      dragFrom = undefined;
      this.thumb.classList.remove('hx-drag');
      this.saveState();
    };
    this.thumb.addEventListener('pointerup', end);
    this.thumb.addEventListener('pointercancel', end);
    this.track.addEventListener('pointerdown', (e) => {
      if (e.target !== this.track) return;
      const th = this.model.thumb(this.trackHeight);
      const y = e.clientY - this.track.getBoundingClientRect().top;
      this.model.scrollBy(y < th.top ? -this.model.viewRows : this.model.viewRows);
      this.saveState();
      this.schedule();
    });
  }

  /** Scrolls so that the last row of the disk is at the bottom (the scrollbar's end). */
  scrollToEnd(): void {
    this.gotoStart = performance.now();
    this.timings.lastGoToMs = -1;
    this.model.setTopRow(this.model.maxTopRow);
    this.schedule();
  }

  private async copy(as: 'hex' | 'text'): Promise<void> {
    const [lo, hi] = this.selection();
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
    try {
      const table = await scanPartitions((o, n) => this.cache.read(o, n), this.model.size, this.sectorSize);
      this.partitions = table;
      this.showPartitions(table);
      for (const f of this.partitionListeners) f(table);
    } catch (err) {
      this.partsNote.textContent = t('Partition table not read: {0}', (err as Error).message);
    }
  }

  onPartitions(f: (table: PartitionTable) => void): void {
    this.partitionListeners.push(f);
    if (this.partitions) f(this.partitions);
  }

  get partitionTable(): PartitionTable | undefined {
    return this.partitions;
  }

  private showPartitions(table: PartitionTable): void {
    this.partsBody.textContent = '';
    this.partSelect.textContent = '';
    const first = el('option', undefined, table.partitions.length ? t('Go to partition…') : t('No partitions'));
    first.value = '';
    this.partSelect.append(first);
    const scheme =
      table.scheme === 'none'
        ? t('No MBR or GPT partition table found.')
        : t('{0}, {1}-byte sectors', table.scheme.toUpperCase(), table.sectorSize) + (table.diskId ? t(', disk {0}', table.diskId) : '');
    this.partsNote.textContent = scheme;
    // One LBA unit per view: the list counts in the go-to box's unit, and says so (partition-display.ts).
    if (this.lbaHead) this.lbaHead.textContent = t('LBA range ({0} B)', this.sectorSize);
    if (unitNote(table, this.sectorSize)) {
      this.partsNote.append(
        el(
          'div',
          'hx-sub',
          t(
            'The table uses {0}-byte LBAs; they are listed here in {1}-byte LBAs, the unit of "lba N" in the go-to box (qcow2Inspector.sectorSize).',
            table.sectorSize,
            this.sectorSize,
          ),
        ),
      );
    }
    for (const w of table.warnings) this.partsNote.append(el('div', 'hx-warn', w));
    this.boundaries = [];
    table.partitions.forEach((p, idx) => {
      const label = p.name ? `${p.number} ${p.name}` : `${p.number}`;
      const tr = el('tr');
      tr.tabIndex = 0;
      const cells = partitionCells(p, table.sectorSize, this.sectorSize);
      tr.title = `${p.typeName} (${p.type})\n${cells.native}${p.guid ? `\nGUID ${p.guid}` : ''}`;
      const nameCell = el('td');
      nameCell.append(document.createTextNode(p.name || p.typeName));
      if (p.name) nameCell.append(el('div', 'hx-sub', p.typeName));
      tr.append(el('td', undefined, String(p.number)), nameCell, el('td', 'hx-v', cells.range), el('td', cells.problem ? 'hx-warn' : undefined, cells.size));
      const jump = () => {
        this.goTo(p.start);
        this.grid.focus();
      };
      tr.addEventListener('click', jump);
      tr.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          jump();
        }
      });
      this.partsBody.append(tr);
      const o = el('option', undefined, `${label} (LBA ${cells.firstLba})`);
      o.value = String(idx);
      this.partSelect.append(o);
      if (!p.extended && !p.problem) {
        this.boundaries.push({ offset: p.start, label: `▶ p${label} start` });
        this.boundaries.push({ offset: p.end, label: `◀ p${p.number} end` });
      }
    });
    this.boundaries.sort((a, b) => a.offset - b.offset);
    this.schedule();
  }

  private boundariesIn(start: number, end: number): Array<{ offset: number; label: string }> {
    const b = this.boundaries;
    if (b.length === 0) return [];
    let lo = 0;
    let hi = b.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (b[mid].offset < start) lo = mid + 1;
      else hi = mid;
    }
    const out = [];
    for (let i = lo; i < b.length && b[i].offset < end; i++) out.push(b[i]);
    return out;
  }

  // -------------------------------------------------------------------------------------------------------
  // Host messages, state, lifecycle
  // -------------------------------------------------------------------------------------------------------

  private onHostMessage(m: HostMessage): void {
    switch (m.type) {
      case 'hexEdited':
        // "Saved" would lie once there are unsaved edits again.
        if (m.dirty && this.status.textContent === t('Saved')) this.setStatus('');
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
    if (reason) this.nibble = undefined;
  }

  private setStatus(text: string, error = false): void {
    this.status.textContent = text;
    this.status.classList.toggle('hx-err', error);
  }

  private saveTimer?: ReturnType<typeof setTimeout>;
  private saveState(): void {
    this.state.topRow = this.model.topRow;
    if (this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      this.host.setState({ ...this.state, topRow: this.model.topRow });
    }, 200);
  }

  private readonly onWindowResize = (): void => this.layout();

  focus(): void {
    this.layout();
    this.grid.focus();
  }

  focusGoto(): void {
    this.gotoInput.focus();
    this.gotoInput.select();
  }

  /** Starts the fetch-time and cache-size figures afresh (the bench ignores its warm-up). */
  resetTimings(): void {
    this.cache.stats.maxFetchMs = 0;
    this.cache.stats.peakPages = this.cache.stats.pages;
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

const HEX2 = Array.from({ length: 256 }, (_, i) => byteHex(i));
const PRINTABLE = Array.from({ length: 256 }, (_, i) => printable(i));

function clampInt(v: unknown, min: number, max: number, dflt: number): number {
  return typeof v === 'number' && Number.isSafeInteger(v) ? Math.min(max, Math.max(min, v)) : dflt;
}
