/**
 * The map's run list: qemu-img-map style rows (guest start, length, kind, host offset, layer, L1/L2) with its own
 * virtual scrolling. It holds only the rows on screen and asks the host for the window around them.
 */
import type { MapRun } from '../../src/shared/protocol';
import { formatBytes, hex, hexFor } from '../../src/shared/format';
import { h, setChildren } from '../dom';
import { request } from '../host';
import { t } from '../l10n';
import { bucketStyle } from '../colors';

const ROW_H = 22;
const LIST_ROWS = 14;

export class RunList {
  readonly el: HTMLElement;
  /** The guest offset of the first row shown (kept in the webview state by the map). */
  runsFromOffset: number;
  private vsize = 0;
  private readonly list = h('div', { class: 'runs', tabindex: 0, role: 'grid', 'aria-label': t('Mapping runs') });
  private readonly listBody = h('div', { class: 'runs-body', role: 'rowgroup' });
  private readonly thumb = h('div', { class: 'runs-thumb' });
  private readonly track = h('div', { class: 'runs-track' }, this.thumb);
  private runs: MapRun[] = [];
  /** Bumped by each fetch: only the latest answer is shown. */
  private generation = 0;
  private wheelAcc = 0;
  private selectedRow = 0;

  constructor(
    from: number,
    private readonly goHex: (offset: number) => void,
    /** The first row moved: the map saves it with its own state. */
    private readonly onMoved: () => void,
  ) {
    this.runsFromOffset = from;
    this.el = h(
      'div',
      { class: 'run-list' },
      h('h3', null, t('Mapping runs')),
      h(
        'div',
        { class: 'runs-head', role: 'row' },
        ...[t('Guest start'), t('Length'), t('Kind'), t('Host offset'), t('Layer'), t('L1 / L2')].map((x) => h('span', { role: 'columnheader' }, x)),
      ),
      h('div', { class: 'runs-frame' }, this.list, this.track),
      h(
        'p',
        { class: 'muted small' },
        t('Wheel or arrow keys scroll the runs; drag the bar on the right to jump anywhere. Click a cell or a run to open the hex view there.'),
      ),
    );
    this.list.appendChild(this.listBody);
    this.list.style.height = `${LIST_ROWS * ROW_H}px`;
    this.bindList();
  }

  /** Shows the rows from the saved offset of a disk of `vsize` bytes. */
  start(vsize: number): void {
    this.vsize = vsize;
    void this.fetchRuns(this.runsFromOffset, LIST_ROWS + 10);
  }

  /** Shows `count` runs from `from`; a negative count asks for the runs above it, then shows from the first of them. */
  private async fetchRuns(from: number, count: number): Promise<void> {
    const gen = ++this.generation;
    const at = Math.max(0, Math.min(from, this.vsize - 1));
    const reply = await request((requestId) => ({ type: 'requestRuns', requestId, from: at, count }), 'mapRuns').catch(() => undefined);
    if (!reply || gen !== this.generation) return;
    if (count < 0) {
      if (reply.runs.length > 0) void this.fetchRuns(reply.runs[0].start, LIST_ROWS + 10);
      return;
    }
    this.runs = reply.runs;
    this.runsFromOffset = reply.runs[0]?.start ?? this.runsFromOffset;
    this.onMoved();
    this.renderRuns();
  }

  renderRuns(): void {
    const max = this.vsize;
    const rows = this.runs.slice(0, LIST_ROWS).map((r, i) => {
      const sk = bucketStyle(['unallocated', 'data', 'zero', 'compressed'].indexOf(r.kind), r.depth);
      const sw = h('span', { class: 'swatch' });
      sw.style.background = sk.color;
      sw.style.opacity = String(sk.alpha);
      const row = h(
        'div',
        {
          class: `run-row${i === this.selectedRow ? ' selected' : ''}`,
          role: 'row',
          'aria-selected': i === this.selectedRow ? 'true' : 'false',
          onclick: () => this.goHex(r.start),
        },
        h('span', { role: 'gridcell', class: 'mono' }, hexFor(r.start, max)),
        h('span', { role: 'gridcell', class: 'mono' }, formatBytes(r.length)),
        h('span', { role: 'gridcell' }, sw, ' ', t(r.kind)),
        h('span', { role: 'gridcell', class: 'mono' }, r.hostOffset !== undefined ? hex(r.hostOffset) : '–'),
        h('span', { role: 'gridcell', title: r.file }, r.kind === 'unallocated' ? '–' : r.depth === 0 ? t('top') : `−${r.depth} ${r.file.split('/').pop()}`),
        h('span', { role: 'gridcell', class: 'mono' }, r.l1Index !== undefined ? `${r.l1Index} / ${r.l2Index ?? '–'}` : '–'),
      );
      row.style.height = `${ROW_H}px`;
      return row;
    });
    setChildren(this.listBody, ...rows);
    const trackH = LIST_ROWS * ROW_H;
    const thumbH = 24;
    this.track.style.height = `${trackH}px`;
    this.thumb.style.height = `${thumbH}px`;
    this.thumb.style.top = `${(this.runsFromOffset / Math.max(1, this.vsize)) * (trackH - thumbH)}px`;
  }

  private scrollRows(n: number): void {
    if (n > 0) {
      const k = Math.min(n, this.runs.length - 1);
      if (k <= 0) return;
      void this.fetchRuns(this.runs[k].start, LIST_ROWS + 10);
    } else if (this.runsFromOffset > 0) {
      void this.fetchRuns(this.runsFromOffset, n);
    }
  }

  private bindList(): void {
    this.list.addEventListener(
      'wheel',
      (ev) => {
        ev.preventDefault();
        this.wheelAcc += ev.deltaY;
        const n = Math.trunc(this.wheelAcc / ROW_H);
        if (n !== 0) {
          this.wheelAcc -= n * ROW_H;
          this.scrollRows(n);
        }
      },
      { passive: false },
    );
    this.list.addEventListener('keydown', (ev) => {
      const k = ev.key;
      if (k === 'ArrowDown') {
        if (this.selectedRow < Math.min(LIST_ROWS, this.runs.length) - 1) this.selectedRow++;
        else this.scrollRows(1);
      } else if (k === 'ArrowUp') {
        if (this.selectedRow > 0) this.selectedRow--;
        else this.scrollRows(-1);
      } else if (k === 'PageDown') this.scrollRows(LIST_ROWS - 1);
      else if (k === 'PageUp') this.scrollRows(-(LIST_ROWS - 1));
      else if (k === 'Home') void this.fetchRuns(0, LIST_ROWS + 10);
      else if (k === 'End') void this.fetchRuns(this.vsize - 1, -LIST_ROWS);
      else if (k === 'Enter') {
        const r = this.runs[this.selectedRow];
        if (r) this.goHex(r.start);
      } else return;
      ev.preventDefault();
      this.renderRuns();
    });
    let dragging = false;
    const jump = (ev: MouseEvent): void => {
      const r = this.track.getBoundingClientRect();
      const f = Math.max(0, Math.min(1, (ev.clientY - r.top) / r.height));
      void this.fetchRuns(Math.floor((f * this.vsize) / 512) * 512, LIST_ROWS + 10);
    };
    this.track.addEventListener('mousedown', (ev) => {
      dragging = true;
      jump(ev);
      ev.preventDefault();
    });
    window.addEventListener('mousemove', (ev) => dragging && jump(ev));
    window.addEventListener('mouseup', () => (dragging = false));
  }
}
