/** The hex grid's pool of row elements (one per visible row) and its column header, painted from the page cache. */
import { t } from '../l10n';
import type { CursorModel } from './cursor-model';
import { el } from './dom';
import { printable } from './inspector';
import type { PageCache } from './page-cache';
import { marksIn, type PartitionMark } from './partition-marks';
import { byteHex, formatOffset, type OffsetMode } from './row-layout';
import { hexColumnLayout, Pieces, SpanPool, type HexColumnLayout } from './row-paint';

interface RowEls {
  el: HTMLElement;
  off: HTMLElement;
  hex: SpanPool;
  txt: SpanPool;
  mark: HTMLElement;
}

/** What one paint of the rows needs. */
export interface RowPaint {
  topRow: number;
  bpr: number;
  size: number;
  mode: OffsetMode;
  sectorSize: number;
  cursor: CursorModel;
  /** Partition marks, sorted. */
  marks: readonly PartitionMark[];
  cache: PageCache;
  /** Find hits to mark in a row, per byte: 0, MARK_HIT or MARK_CURRENT (find-bar.ts). */
  found?: (start: number, n: number) => Uint8Array | undefined;
}

const FOUND_CLASS = ['', ' hx-fh', ' hx-fc'];
const HEX2 = Array.from({ length: 256 }, (_, i) => byteHex(i));
const PRINTABLE = Array.from({ length: 256 }, (_, i) => printable(i));

export class RowPool {
  readonly head = el('div', 'hx-row hx-head');
  readonly box = el('div', 'hx-rows');
  /** Where each byte's two digits sit in a row (groups, gaps). */
  layout: HexColumnLayout = hexColumnLayout(16, 1);
  private rows: RowEls[] = [];
  private readonly hexPieces = new Pieces();
  private readonly txtPieces = new Pieces();

  get count(): number {
    return this.rows.length;
  }

  /** (Re)creates `n` rows of `bpr` bytes in groups of `group`, and the header, for offsets `offsetChars` wide. */
  rebuild(n: number, bpr: number, group: number, offsetChars: number): void {
    this.layout = hexColumnLayout(bpr, group);
    this.box.textContent = '';
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
      this.box.append(row.el);
    }
    // Column header: byte positions within the row, laid out like the bytes.
    this.head.textContent = '';
    let hexHead = '';
    for (let i = 0; i < bpr; i++) hexHead += this.layout.seps[i] + byteHex(i);
    this.head.append(el('span', 'hx-off', ' '.repeat(offsetChars)), el('span', 'hx-hex', hexHead), el('span', 'hx-txt', t('text').padEnd(bpr, ' ')));
  }

  /** Paints every row; true when every visible byte is loaded and fresh. */
  paint(p: RowPaint): boolean {
    const { bpr, size, mode, sectorSize, marks: allMarks, cache } = p;
    const [selLo, selHi] = p.cursor.selection();
    const cursor = p.cursor.cursor;
    const nibble = p.cursor.nibble;
    let complete = true;
    const { seps } = this.layout;
    const hp = this.hexPieces;
    const tp = this.txtPieces;
    const hexCur = p.cursor.column === 'hex' ? ' hx-cur' : '';
    const txtCur = p.cursor.column === 'text' ? ' hx-cur' : '';
    for (let r = 0; r < this.rows.length; r++) {
      const row = this.rows[r];
      const start = (p.topRow + r) * bpr;
      if (start >= size) {
        row.el.style.visibility = 'hidden';
        continue;
      }
      row.el.style.visibility = '';
      row.off.textContent = formatOffset(start, mode, size, sectorSize);
      const marks = marksIn(allMarks, start, start + bpr);
      row.el.classList.toggle('hx-pstart', marks.length > 0 && marks[0].offset === start);
      row.mark.textContent = marks.length ? marks.map((m) => m.label).join(' · ') : '';
      // The label may be cut at the grid's edge: the whole of it on hover (#20 point 6).
      row.mark.title = row.mark.textContent;
      hp.reset();
      tp.reset();
      let page = cache.get(cache.pageIndex(start));
      let prevSel = false;
      const found = p.found?.(start, bpr);
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
        if (page && off >= page.offset + page.data.length) page = cache.get(cache.pageIndex(off));
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
        const k = 'hx-k' + page.kinds[at] + (page.edited?.[at] ? ' hx-edit' : '') + (found?.[i] ? FOUND_CLASS[found[i]] : '');
        if (isCur && nibble && nibble.offset === off) hp.add(nibble.high.toString(16) + '_', k + ' hx-nib' + sel + ' hx-cur');
        else hp.add(HEX2[b], k + sel + pb + (isCur ? hexCur : ''));
        tp.add(PRINTABLE[b], k + sel + (isCur ? txtCur : ''));
      }
      row.hex.paint(hp);
      row.txt.paint(tp);
    }
    return complete;
  }
}
