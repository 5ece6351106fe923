/**
 * "Show extents on the map" (issue #13): one guest file's extents drawn as framed cells over the map, and a panel
 * below the canvas naming the file, with its ranges as buttons (each opens the hex view there) and a Clear button.
 * The ranges arrive joined and bounded by the host (extent-overlay.ts); cells come from rangeCells, the same
 * mapping as the Find hits (map-hits.ts).
 */
import type { MapSummary } from '../../src/shared/protocol';
import { rangeCells, type ExtentOverlay } from '../../src/shared/extent-overlay';
import { formatBytes, hex } from '../../src/shared/format';
import { h, icon, setChildren } from '../dom';
import { t } from '../l10n';
import { getState, updateState } from '../host';

/** Ranges listed as buttons under the map; the rest are drawn and counted ("… and N more"). */
const LISTED_RANGES = 32;

export class ExtentsOverlay {
  readonly el = h('div', { class: 'map-extents', role: 'region', 'aria-label': t('File extents'), hidden: true });
  private overlay?: ExtentOverlay;

  constructor(
    private readonly goHex: (offset: number) => void,
    /** The overlay was set or cleared: the map redraws and renews its legend. */
    private readonly changed: () => void,
  ) {
    // Back from a hidden tab: the overlay shown before (the map draws it with its first summary).
    const saved = getState().mapExtents;
    this.overlay = saved && Array.isArray(saved.ranges) ? saved : undefined;
    this.render();
  }

  get active(): boolean {
    return this.overlay !== undefined;
  }

  /** The first guest byte of the file's data (for zooming out to it). */
  get first(): number | undefined {
    return this.overlay?.ranges[0]?.[0];
  }

  set(overlay: ExtentOverlay): void {
    this.overlay = overlay;
    updateState({ mapExtents: overlay });
    this.render();
    this.changed();
  }

  clear(): void {
    if (!this.overlay) return;
    this.overlay = undefined;
    updateState({ mapExtents: undefined });
    this.render();
    this.changed();
  }

  /** Frames the cells the file's ranges touch; returns them (the map puts them in a data attribute for tests). */
  draw(c: CanvasRenderingContext2D, s: MapSummary, cols: number, rows: number, cell: number): number[] {
    if (!this.overlay) return [];
    const cells = rangeCells(this.overlay.ranges, { start: s.start, end: s.end, cellBytes: s.bucketBytes }, Math.min(cols * rows, s.kinds.length));
    c.strokeStyle = extentColor();
    c.lineWidth = 2;
    for (const i of cells) c.strokeRect((i % cols) * cell + 1, Math.floor(i / cols) * cell + 1, cell - 3, cell - 3);
    return cells;
  }

  /** The legend entry: colour and label, while an overlay is shown. */
  legend(): { color: string; label: string } | undefined {
    return this.overlay ? { color: extentColor(), label: t('extents of {0}', this.overlay.path) } : undefined;
  }

  private render(): void {
    const o = this.overlay;
    this.el.hidden = !o;
    if (!o) return setChildren(this.el);
    const summary =
      o.joined > 0
        ? t('{0}: {1} extents, {2}; drawn as {3} ranges (nearby ones joined)', o.path, o.extents, formatBytes(o.bytes), o.ranges.length)
        : o.extents === 1
          ? t('{0}: 1 extent, {1}', o.path, formatBytes(o.bytes))
          : t('{0}: {1} extents, {2}', o.path, o.extents, formatBytes(o.bytes));
    const clear = h(
      'vscode-button',
      { secondary: true, class: 'map-extents-clear', title: t('Clear the extents overlay (Escape on the map)'), onclick: () => this.clear() },
      icon('close'),
      ' ',
      t('Clear'),
    );
    const list = h(
      'div',
      { class: 'map-extents-list', role: 'list' },
      ...o.ranges
        .slice(0, LISTED_RANGES)
        .map(([at, len]) =>
          h(
            'button',
            { class: 'map-extent', role: 'listitem', 'data-guest-offset': String(at), 'data-length': String(len), onclick: () => this.goHex(at) },
            `${hex(at)} +${formatBytes(len)}`,
          ),
        ),
    );
    const more = o.ranges.length > LISTED_RANGES ? h('span', { class: 'muted' }, t('… and {0} more', o.ranges.length - LISTED_RANGES)) : undefined;
    setChildren(
      this.el,
      h('div', { class: 'map-extents-head' }, h('span', { class: 'swatch map-extents-swatch' }), h('span', null, summary), clear),
      list,
      ...(more ? [more] : []),
    );
  }
}

/** Red frames: apart from the kinds' fills, the partitions' yellow and the Find hits' orange dots, in every theme. */
export function extentColor(): string {
  return getComputedStyle(document.body).getPropertyValue('--vscode-charts-red').trim() || '#f14c4c';
}
