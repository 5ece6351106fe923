/**
 * The "Find all" results list under the find bar: one row per hit (offset, LBA, partition, a text preview),
 * a listbox the keyboard can walk (Up/Down/Home/End, Enter jumps), clicking a row jumps there.
 * Rows are added as the host streams hits (at most FIND_RESULT_LIMIT); texts go through textContent.
 */
import type { FindHit, FindStatus } from '../../src/shared/protocol';
import { FIND_RESULT_LIMIT } from '../../src/shared/protocol';
import type { PartitionTable } from '../../src/shared/partitions';
import { t } from '../l10n';
import { partitionAt } from './find-model';

export interface HitRow {
  offset: string;
  lba: string;
  partition: string;
  preview: string;
  title: string;
}

/** The cells of a hit's row: offset, LBA, partition, preview; layer and host offset on hover. */
export function hitRow(h: FindHit, table: PartitionTable | undefined, sectorSize: number): HitRow {
  const part = partitionAt(table, h.offset) ?? '';
  return {
    offset: `0x${h.offset.toString(16)}`,
    lba: `LBA ${Math.floor(h.offset / sectorSize)}`,
    partition: part ? t('p{0}', part) : '',
    preview: h.preview,
    title:
      (h.fileOffset === undefined ? '' : t('offset {0} in the file', `0x${h.fileOffset.toString(16)}`) + ', ') +
      t('layer {0}, host offset {1}', h.layer, h.hostOffset === null ? '–' : `0x${h.hostOffset.toString(16)}`),
  };
}

/** What a finished "Find all" says above its list: how many, and whether it stopped at the limit or was cancelled. */
export function allSummary(status: Exclude<FindStatus, 'error'>, n: number): string {
  if (status === 'cancelled') return t('Search cancelled: {0} found before', n.toLocaleString());
  if (status === 'limit') return t('{0} results: stopped at the limit of {1}, there may be more', n.toLocaleString(), FIND_RESULT_LIMIT.toLocaleString());
  return n === 0 ? t('No results') : t('{0} results', n.toLocaleString());
}

export class FindResultsList {
  readonly el = document.createElement('div');
  private readonly summary = document.createElement('div');
  private readonly box = document.createElement('div');
  private hits: FindHit[] = [];
  private current = -1;

  constructor(
    private readonly onPick: (hit: FindHit) => void,
    private readonly onLeave: () => void,
  ) {
    this.el.className = 'hx-find-list';
    this.el.hidden = true;
    this.summary.className = 'hx-find-summary';
    this.box.className = 'hx-find-rows';
    this.box.setAttribute('role', 'listbox');
    this.box.setAttribute('aria-label', t('Find results'));
    this.box.addEventListener('keydown', (e) => this.onKey(e));
    this.box.addEventListener('click', (e) => {
      const row = (e.target as HTMLElement).closest<HTMLElement>('.hx-find-hit');
      if (row) this.pick(Number(row.dataset.i));
    });
    this.el.append(this.summary, this.box);
  }

  clear(): void {
    this.hits = [];
    this.current = -1;
    this.box.textContent = '';
    this.el.hidden = true;
  }

  show(summary: string): void {
    this.summary.textContent = summary;
    this.el.hidden = false;
  }

  append(hits: readonly FindHit[], describe: (h: FindHit) => HitRow): void {
    const frag = document.createDocumentFragment();
    for (const h of hits) {
      const i = this.hits.length;
      this.hits.push(h);
      const d = describe(h);
      const row = document.createElement('div');
      row.className = 'hx-find-hit';
      row.setAttribute('role', 'option');
      row.setAttribute('aria-selected', 'false');
      row.tabIndex = i === 0 ? 0 : -1;
      row.dataset.i = String(i);
      row.dataset.offset = String(h.offset);
      row.title = d.title;
      for (const [cls, text] of [
        ['hx-fo', d.offset],
        ['hx-fl', d.lba],
        ['hx-fp', d.partition],
        ['hx-fv', d.preview],
      ]) {
        const s = document.createElement('span');
        s.className = cls;
        s.textContent = text;
        row.append(s);
      }
      frag.append(row);
    }
    this.box.append(frag);
  }

  /** Marks row `i` as the current hit (-1: none). */
  setCurrent(i: number): void {
    const rows = this.box.children;
    const old = rows[this.current] as HTMLElement | undefined;
    old?.setAttribute('aria-selected', 'false');
    if (old) old.tabIndex = -1;
    this.current = i;
    const row = rows[i] as HTMLElement | undefined;
    if (!row) {
      if (rows[0]) (rows[0] as HTMLElement).tabIndex = 0;
      return;
    }
    row.setAttribute('aria-selected', 'true');
    row.tabIndex = 0;
    row.scrollIntoView({ block: 'nearest' });
  }

  private pick(i: number): void {
    const h = this.hits[i];
    if (h) this.onPick(h);
  }

  private onKey(e: KeyboardEvent): void {
    const row = (e.target as HTMLElement).closest<HTMLElement>('.hx-find-hit');
    const i = row ? Number(row.dataset.i) : -1;
    let to = -1;
    if (e.key === 'ArrowDown') to = Math.min(this.hits.length - 1, i + 1);
    else if (e.key === 'ArrowUp') {
      if (i <= 0) {
        this.onLeave();
        e.preventDefault();
        return;
      }
      to = i - 1;
    } else if (e.key === 'Home') to = 0;
    else if (e.key === 'End') to = this.hits.length - 1;
    else if (e.key === 'Enter' || e.key === ' ') {
      if (i >= 0) this.pick(i);
    } else return;
    e.preventDefault();
    e.stopPropagation();
    const target = this.box.children[to] as HTMLElement | undefined;
    if (target) {
      for (const r of this.box.querySelectorAll<HTMLElement>('.hx-find-hit[tabindex="0"]')) r.tabIndex = -1;
      target.tabIndex = 0;
      target.focus();
    }
  }
}
