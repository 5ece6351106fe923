/**
 * Map: a zoomable canvas of the whole guest disk (one cell per host-computed bucket, coloured by dominant kind
 * and layer). Around it: the hover card (map-hover.ts), the legend (map-legend.ts), the marks drawn over the cells
 * (partitions, Find hits, a guest file's extents: map-partitions.ts, map-hits.ts, map-overlay.ts) and the run list
 * (map-runs.ts). Nothing here grows with the disk size.
 */
import type { HostMessage, MapSummary } from '../../src/shared/protocol';
import { MAX_MAP_BUCKETS } from '../../src/shared/protocol';
import { MIN_CELL_BYTES, cellRange, mapGrid } from '../../src/shared/map-cells';
import { formatBytes, formatRange, percent } from '../../src/shared/format';
import { h, icon } from '../dom';
import { post, requestId, getState, updateState } from '../host';
import { t } from '../l10n';
import { bucketStyle, onThemeChange } from '../colors';
import type { View, ViewContext } from './view';
import { RunList } from './map-runs';
import { drawHitMarkers, hitColor } from './map-hits';
import { HoverCard } from './map-hover';
import { renderLegend, type LegendMark } from './map-legend';
import { ExtentsOverlay } from './map-overlay';
import { MetadataMarks } from './map-metadata';
import { drawPartitionBoundaries, partitionColor, type PartitionSpan } from './map-partitions';

const CELL = 8;
const MAX_ROWS = 48;

export class MapView implements View {
  readonly id = 'map' as const;
  readonly el: HTMLElement;
  private vsize = 0;
  private start = 0;
  private end = 0;
  private summary?: MapSummary;
  private summaryReq = 0;
  private cols = 0;
  private rows = 0;
  private readonly canvas = h('canvas', { class: 'map-canvas', tabindex: 0, role: 'img', 'aria-label': t('Map of the guest disk') });
  private readonly status = h('span', { class: 'map-status muted', 'aria-live': 'polite' });
  private readonly rangeLabel = h('span', { class: 'map-range' });
  private readonly legend = h('div', { class: 'legend' });
  private readonly hover: HoverCard;
  /** One guest file's extents ("Show extents on the map" in the Files tab). */
  private readonly extents: ExtentsOverlay;
  /** The guest file systems' own structures, painted apart from file data. */
  private readonly metadata: MetadataMarks;
  private layers: string[] = [];
  private started = false;
  private readonly runList: RunList;
  /** Guest partition ranges, drawn as boundary marks. */
  private partitionStarts: PartitionSpan[] = [];
  /** Offsets of the hex view's "Find all" hits, drawn as dots (map-hits.ts). */
  private findHits: readonly number[] = [];

  private readonly goHex: (offset: number) => void;

  constructor(private readonly ctx: ViewContext) {
    this.goHex = (offset) => ctx.goHex(offset);
    const saved = getState().map;
    if (saved) {
      this.start = saved.start;
      this.end = saved.end;
    }
    this.runList = new RunList(saved?.runsFrom ?? 0, this.goHex, () => this.saveState());
    this.hover = new HoverCard({ summary: () => this.summary, cell: (i) => this.cell(i), goHex: this.goHex, sectorSize: () => ctx.sectorSize });
    const redraw = (): void => {
      this.renderLegend();
      this.draw();
    };
    this.extents = new ExtentsOverlay(this.goHex, redraw);
    this.metadata = new MetadataMarks(redraw);
    const btn = (ic: string, label: string, fn: () => void): HTMLElement => {
      const b = h('vscode-button', { secondary: true, title: label, 'aria-label': label, onclick: fn }, icon(ic));
      return b;
    };
    const toolbar = h(
      'div',
      { class: 'toolbar' },
      btn('zoom-in', t('Zoom in (+)'), () => this.zoom(0.5, 0.5)),
      btn('zoom-out', t('Zoom out (−)'), () => this.zoom(2, 0.5)),
      btn('screen-full', t('Whole disk (0)'), () => this.setRange(0, this.vsize)),
      this.metadata.toggle,
      this.rangeLabel,
      this.status,
    );
    this.el = h(
      'section',
      { class: 'view map', 'aria-label': 'Map' },
      toolbar,
      h('div', { class: 'map-wrap' }, this.canvas, this.hover.el),
      this.legend,
      this.extents.el,
      this.runList.el,
    );
    this.bindCanvas();
    new ResizeObserver(() => this.layout()).observe(this.canvas);
    onThemeChange(() => {
      this.draw();
      if (this.summary) this.renderLegend();
      this.runList.renderRuns();
    });
    ctx.findHits.subscribe((offsets) => {
      this.findHits = offsets;
      this.renderLegend();
      this.draw();
    });
    ctx.partitions.subscribe((table) => {
      this.partitionStarts = table.partitions
        .filter((p) => !p.extended && !p.problem)
        .map((p) => ({ start: p.start, end: p.end, label: p.name || `${p.number}` }));
      this.renderLegend();
      this.draw();
    });
  }

  shown(): void {
    if (this.started || this.vsize === 0) return;
    this.started = true;
    this.layout(true);
    this.runList.start(this.vsize);
    this.metadata.load();
  }

  handle(msg: HostMessage): void {
    switch (msg.type) {
      case 'overview':
        if (this.vsize !== msg.data.virtualSize) {
          this.vsize = msg.data.virtualSize;
          if (this.end <= this.start || this.end > this.vsize) {
            this.start = 0;
            this.end = this.vsize;
          }
        }
        if (this.el.isConnected && this.el.offsetParent !== null) this.shown();
        return;
      case 'refresh':
        this.started = false;
        this.metadata.reset();
        return;
      case 'mapSummary':
        if (msg.data.requestId !== this.summaryReq) return;
        this.summary = msg.data;
        this.layers = msg.data.layers;
        this.draw();
        this.status.textContent = msg.data.done
          ? t('Map ready in {0} ms', msg.data.elapsedMs)
          : t('Scanning… {0}', percent((msg.data.scannedTo - msg.data.start) / Math.max(1, msg.data.end - msg.data.start)));
        if (msg.data.done) this.canvas.setAttribute('data-ready', 'true');
        this.renderLegend();
        return;
      case 'fileExtents':
        this.extents.set(msg.overlay);
        // Show the whole disk when the file's first range is outside the range shown.
        if (this.extents.first !== undefined && (this.extents.first < this.start || this.extents.first >= this.end)) this.setRange(0, this.vsize);
        return;
    }
  }

  // --- canvas -------------------------------------------------------------------------------------

  private layout(force = false): void {
    const width = this.canvas.clientWidth;
    if (width === 0 || this.vsize === 0) return;
    const cols = Math.max(8, Math.floor(width / CELL));
    // As many rows as the power-of-two cells of the range need (map-cells.ts), at most MAX_ROWS.
    const grid = mapGrid(this.start, this.end, Math.min(MAX_MAP_BUCKETS, cols * MAX_ROWS), this.vsize);
    const rows = Math.max(1, Math.min(MAX_ROWS, Math.ceil(grid.count / cols)));
    if (!force && cols === this.cols && rows === this.rows) return;
    this.cols = cols;
    this.rows = rows;
    const dpr = window.devicePixelRatio || 1;
    this.canvas.style.height = `${rows * CELL}px`;
    this.canvas.width = Math.floor(width * dpr);
    this.canvas.height = Math.floor(rows * CELL * dpr);
    this.request();
  }

  /** Most cells asked for: the host makes the same grid from it (map-cells.ts). */
  private buckets(): number {
    return Math.min(MAX_MAP_BUCKETS, this.cols * MAX_ROWS);
  }

  private request(): void {
    this.summaryReq = requestId();
    this.canvas.removeAttribute('data-ready');
    this.status.textContent = t('Scanning…');
    const grid = mapGrid(this.start, this.end, this.buckets(), this.vsize);
    this.rangeLabel.textContent =
      grid.start === 0 && grid.end === this.vsize ? t('Whole disk: {0}', formatBytes(this.vsize)) : formatRange(grid.start, grid.end - grid.start);
    post({ type: 'requestMap', requestId: this.summaryReq, start: this.start, end: this.end, buckets: this.buckets() });
    this.saveState();
  }

  private saveState(): void {
    updateState({ map: { start: this.start, end: this.end, runsFrom: this.runList.runsFromOffset } });
  }

  private setRange(start: number, end: number): void {
    const minSpan = Math.min(this.vsize, this.buckets() * MIN_CELL_BYTES);
    let s = Math.max(0, Math.floor(start / 512) * 512);
    let e = Math.min(this.vsize, Math.ceil(end / 512) * 512);
    if (e - s < minSpan) {
      const mid = (s + e) / 2;
      s = Math.max(0, Math.floor((mid - minSpan / 2) / 512) * 512);
      e = Math.min(this.vsize, s + minSpan);
      s = Math.max(0, e - minSpan);
    }
    if (s === this.start && e === this.end) return;
    this.start = s;
    this.end = e;
    this.summary = undefined;
    this.layout(true);
  }

  /** Zooms by `factor` (0.5 = in) around the fraction `at` of the current range. */
  private zoom(factor: number, at: number): void {
    const span = this.end - this.start;
    const pivot = this.start + span * at;
    const next = Math.min(this.vsize, span * factor);
    this.setRange(pivot - next * at, pivot - next * at + next);
  }

  private pan(fraction: number): void {
    const span = this.end - this.start;
    const s = Math.max(0, Math.min(this.vsize - span, this.start + span * fraction));
    this.setRange(s, s + span);
  }

  private draw(): void {
    const s = this.summary;
    const c = this.canvas.getContext('2d');
    if (!c || !s) return;
    const dpr = window.devicePixelRatio || 1;
    c.setTransform(dpr, 0, 0, dpr, 0, 0);
    c.clearRect(0, 0, this.canvas.width, this.canvas.height);
    const cell = CELL;
    for (let i = 0; i < s.kinds.length && i < this.cols * this.rows; i++) {
      const k = s.kinds[i];
      if (k === 255) continue;
      const x = (i % this.cols) * cell;
      const y = Math.floor(i / this.cols) * cell;
      const st = bucketStyle(k, s.depths[i]);
      c.globalAlpha = st.alpha;
      c.fillStyle = st.color;
      c.fillRect(x, y, cell - 1, cell - 1);
      if (s.mixed[i]) {
        c.globalAlpha = 0.6;
        c.fillStyle = getComputedStyle(document.body).getPropertyValue('--vscode-editor-background') || '#000';
        c.fillRect(x + cell - 3, y, 2, 2);
      }
    }
    c.globalAlpha = 1;
    this.canvas.dataset.metadataCells = String(this.metadata.draw(c, s, this.cols, this.rows, CELL));
    drawPartitionBoundaries(c, s, this.partitionStarts, this.cols, this.rows, CELL);
    // Extents framed first, Find hits' dots on top. The cells marked go in data attributes, for UI tests.
    this.canvas.dataset.extentCells = this.extents.draw(c, s, this.cols, this.rows, CELL).join(',');
    this.canvas.dataset.hitCells = String(drawHitMarkers(c, s, this.findHits, this.cols, this.rows, CELL));
    // The grid drawn, for UI tests (numbers only).
    Object.assign(this.canvas.dataset, { start: String(s.start), cellBytes: String(s.bucketBytes), cols: String(this.cols) });
  }

  private renderLegend(): void {
    const marks: LegendMark[] = [];
    if (this.partitionStarts.length) marks.push({ color: partitionColor(), label: t('partition boundary') });
    if (this.findHits.length) marks.push({ color: hitColor(), label: t('find hit') });
    const meta = this.metadata.legend();
    if (meta) marks.push(meta);
    const ext = this.extents.legend();
    if (ext) marks.push({ ...ext, frame: true });
    renderLegend(this.legend, this.layers, marks, this.summary?.bucketBytes ?? 0);
  }

  private bucketAt(ev: MouseEvent): number {
    const r = this.canvas.getBoundingClientRect();
    const col = Math.floor((ev.clientX - r.left) / CELL);
    const row = Math.floor((ev.clientY - r.top) / CELL);
    if (col < 0 || col >= this.cols || row < 0 || row >= this.rows) return -1;
    const i = row * this.cols + col;
    return this.summary && i < this.summary.kinds.length && this.summary.kinds[i] !== 255 ? i : -1;
  }

  /** Guest bytes [from, to) of cell `i` of the summary drawn now. */
  private cell(i: number): { from: number; to: number } {
    const s = this.summary;
    if (!s) return { from: this.start, to: this.start + 1 };
    const r = cellRange({ start: s.start, cellBytes: s.bucketBytes, count: s.kinds.length, end: Math.min(this.vsize, s.end) }, i);
    return { from: Math.min(this.vsize - 1, r.from), to: Math.max(r.from + 1, r.to) };
  }

  private bindCanvas(): void {
    this.canvas.addEventListener('mousemove', (ev) => {
      const i = this.bucketAt(ev);
      if (i < 0) return this.hover.hide();
      const r = this.canvas.getBoundingClientRect();
      this.hover.move(i, ev.clientX - r.left, ev.clientY - r.top, r);
    });
    this.canvas.addEventListener('mouseleave', () => this.hover.hide());
    this.canvas.addEventListener('click', (ev) => {
      const i = this.bucketAt(ev);
      if (i >= 0) this.hover.click(i);
    });
    this.canvas.addEventListener(
      'wheel',
      (ev) => {
        ev.preventDefault();
        const r = this.canvas.getBoundingClientRect();
        const i = this.bucketAt(ev);
        const at = i >= 0 ? i / Math.max(1, this.summary?.kinds.length ?? 1) : (ev.clientY - r.top) / r.height;
        this.zoom(ev.deltaY < 0 ? 0.5 : 2, Math.max(0, Math.min(1, at)));
      },
      { passive: false },
    );
    this.canvas.addEventListener('keydown', (ev) => {
      const k = ev.key;
      if (k === '+' || k === '=') this.zoom(0.5, 0.5);
      else if (k === '-' || k === '_') this.zoom(2, 0.5);
      else if (k === '0' || k === 'Home') this.setRange(0, this.vsize);
      else if (k === 'ArrowRight' || k === 'ArrowDown') this.pan(0.25);
      else if (k === 'ArrowLeft' || k === 'ArrowUp') this.pan(-0.25);
      else if (k === 'Enter') this.goHex(this.start);
      else if (k === 'Escape' && this.extents.active) this.extents.clear();
      else if (k === 'm' || k === 'M') this.metadata.flip();
      else return;
      ev.preventDefault();
    });
  }
}
