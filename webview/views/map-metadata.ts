/**
 * File-system metadata on the map (issue #13): cells holding the guest file systems' own structures (superblocks,
 * group descriptors, bitmaps, inode tables, journal; FATs and root directory; MFT and system files) are painted in
 * their own colour, apart from file data. Asked of the host once per image (its readers' metadataRanges), shown
 * by default, hidden with the toolbar toggle. Cells come from rangeCells, as the Find hits' and the extents'.
 */
import { MAP_KIND_CODES, type MapSummary } from '../../src/shared/protocol';
import { rangeCells, type GuestRange } from '../../src/shared/extent-overlay';
import { h, icon } from '../dom';
import { request } from '../host';
import { t } from '../l10n';

export class MetadataMarks {
  readonly toggle: HTMLElement & { disabled: boolean };
  private ranges: GuestRange[] = [];
  private shown = true;
  private asked = false;
  private generation = 0;

  constructor(
    /** The marks changed: the map redraws and renews its legend. */
    private readonly changed: () => void,
  ) {
    const label = t('File-system metadata (m)');
    this.toggle = h(
      'vscode-button',
      { secondary: true, class: 'map-metadata-toggle', title: label, 'aria-label': label, 'aria-pressed': 'true', onclick: () => this.flip() },
      icon('symbol-structure'),
    ) as HTMLElement & { disabled: boolean };
    // Enabled once the host has named some metadata (an image with no readable file system has none).
    this.toggle.disabled = true;
  }

  /** Asks the host once (again after the image changed). */
  load(): void {
    if (this.asked) return;
    this.asked = true;
    const gen = ++this.generation;
    void request((requestId) => ({ type: 'fsMetadata', requestId }), 'fsMetadata')
      .then((reply) => {
        if (gen !== this.generation) return;
        this.ranges = reply.ranges;
        this.toggle.disabled = reply.ranges.length === 0;
        this.changed();
      })
      .catch(() => undefined);
  }

  /** The image changed: ask again when next drawn. */
  reset(): void {
    this.asked = false;
    this.generation++;
    this.ranges = [];
    this.toggle.disabled = true;
  }

  flip(): void {
    this.shown = !this.shown;
    this.toggle.setAttribute('aria-pressed', String(this.shown));
    this.changed();
  }

  /** Paints the allocated cells holding metadata; returns how many (the map puts it in a data attribute for tests). */
  draw(c: CanvasRenderingContext2D, s: MapSummary, cols: number, rows: number, cell: number): number {
    if (!this.shown || this.ranges.length === 0) return 0;
    const cells = rangeCells(this.ranges, { start: s.start, end: s.end, cellBytes: s.bucketBytes }, Math.min(cols * rows, s.kinds.length));
    c.fillStyle = metadataColor();
    let painted = 0;
    for (const i of cells) {
      // Only where the guest has data: metadata never written (lazily initialised inode tables) stays unallocated,
      // as the image holds it.
      const kind = MAP_KIND_CODES[s.kinds[i]];
      if (kind !== 'data' && kind !== 'compressed') continue;
      c.fillRect((i % cols) * cell, Math.floor(i / cols) * cell, cell - 1, cell - 1);
      painted++;
    }
    return painted;
  }

  legend(): { color: string; label: string } | undefined {
    return this.shown && this.ranges.length ? { color: metadataColor(), label: t('file-system metadata') } : undefined;
  }
}

/** The theme's chart foreground: apart from the kinds' blue, green, purple and the faint unallocated grey. */
function metadataColor(): string {
  return getComputedStyle(document.body).getPropertyValue('--vscode-charts-foreground').trim() || '#cccccc';
}
