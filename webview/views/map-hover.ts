/**
 * The map's hover card: the mapping of the run under the pointer (asked of the host per cell, only the latest
 * answer shown), and the click on a cell that opens the hex view at that run once its answer is known.
 */
import type { MapSummary, MappingDetail } from '../../src/shared/protocol';
import { MAP_KIND_CODES } from '../../src/shared/protocol';
import { formatRange, hex } from '../../src/shared/format';
import { h, setChildren } from '../dom';
import { request } from '../host';
import { t } from '../l10n';

/** What the card needs of the map. */
export interface HoverSource {
  summary(): MapSummary | undefined;
  /** Guest bytes [from, to) of cell `i` of the summary drawn now. */
  cell(i: number): { from: number; to: number };
  goHex(offset: number): void;
  sectorSize(): number;
}

export class HoverCard {
  readonly el = h('div', { class: 'hover-card', role: 'tooltip', hidden: true });
  /** Bumped by each hover request and by hiding the card: only the latest answer is shown. */
  private gen = 0;
  private bucket = -1;
  /** The last answer and its cell (a click uses its clickOffset), and a click waiting for an answer. */
  private detail?: { cell: number; detail: MappingDetail };
  private clickPending = -1;
  private timer?: ReturnType<typeof setTimeout>;

  constructor(private readonly src: HoverSource) {}

  /** The pointer is over cell `i` at (x, y) inside the canvas box `r`. */
  move(i: number, x: number, y: number, r: DOMRect): void {
    this.el.style.left = `${Math.min(x + 12, r.width - 280)}px`;
    this.el.style.top = `${y + 14}px`;
    if (i === this.bucket) return;
    this.bucket = i;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.requestCell(i), 40);
  }

  /** A click on cell `i`: opens the hex view at its run, now or when its answer comes. */
  click(i: number): void {
    const known = this.detail?.cell === i ? this.detail.detail : undefined;
    if (known) return this.src.goHex(known.clickOffset ?? known.start);
    this.clickPending = i;
    this.bucket = i;
    clearTimeout(this.timer);
    void this.requestCell(i);
  }

  hide(): void {
    this.bucket = -1;
    this.gen++;
    this.detail = undefined;
    clearTimeout(this.timer);
    this.el.hidden = true;
  }

  /** Asks the host for the whole run painted in cell `i` (the card shows it; a pending click opens its start). */
  private async requestCell(i: number): Promise<void> {
    const s = this.src.summary();
    if (!s) return;
    const { from, to } = this.src.cell(i);
    const gen = ++this.gen;
    const kind = MAP_KIND_CODES[s.kinds[i]] ?? 'unallocated';
    const reply = await request((requestId) => ({ type: 'requestMapping', requestId, offset: from, cellEnd: to, kind, depth: s.depths[i] }), 'mapping').catch(
      () => undefined,
    );
    if (!reply || gen !== this.gen) return;
    const detail = reply.data;
    this.detail = { cell: this.bucket, detail };
    if (this.clickPending >= 0 && this.clickPending === this.bucket) {
      this.clickPending = -1;
      this.src.goHex(detail.clickOffset ?? detail.start);
    }
    this.show(detail);
  }

  private show(m: MappingDetail): void {
    const cell = this.src.cell(this.bucket);
    const layerName = m.depth === 0 ? t('this image') : t('backing layer {0}', m.depth);
    const rows: [string, string][] = [
      [t('Cell'), formatRange(cell.from, cell.to - cell.from)],
      [t('Run'), formatRange(m.start, m.length)],
      [t('LBA'), `${Math.floor(m.start / this.src.sectorSize())}`],
      [t('Kind'), t(m.kind)],
      [t('Layer'), m.kind === 'unallocated' ? t('none (reads as zeros)') : `${layerName} (${m.file.split('/').pop()})`],
      [
        t('Host offset'),
        m.hostOffset !== undefined
          ? hex(m.hostOffset)
          : m.compressedOffset !== undefined
            ? `${hex(m.compressedOffset)} (${m.compressedLength} ${t('bytes compressed')})`
            : '–',
      ],
      [t('L1 index'), m.l1Index !== undefined ? String(m.l1Index) : '–'],
      [t('L2 index'), m.l2Index !== undefined ? String(m.l2Index) : '–'],
      [t('Click opens'), hex(m.clickOffset ?? m.start)],
    ];
    setChildren(this.el, h('dl', null, ...rows.flatMap(([k, v]) => [h('dt', null, k), h('dd', null, v)])));
    this.el.hidden = false;
  }
}
