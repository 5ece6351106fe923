/**
 * The hex view's Find state, without the DOM: the scope as a byte range, the hits found so far ("Find all", and
 * the hits near a next/previous hit), moving through them with wrap-around, and which bytes of a row to mark.
 * The search itself runs on the extension host (src/extension/hex-find.ts).
 */
import type { FindHit, FindMode } from '../../src/shared/protocol';
import type { GuestVolumeInfo } from '../../src/shared/protocol';
import { FIND_RESULT_LIMIT, MAX_GUEST_PATH } from '../../src/shared/protocol';
import { t } from '../l10n';
import type { PartitionTable } from '../../src/shared/partitions';

/**
 * Where to search: the whole disk, one partition (index into the table's list), from the cursor to the end, or one
 * guest file (searched in file order by the host; its hits are placed on the disk).
 */
export type FindScope =
  | { kind: 'disk' }
  | { kind: 'partition'; index: number }
  | { kind: 'cursor' }
  | { kind: 'file'; volume: string; path: string }
  | { kind: 'file'; error: string };

export interface FindQuery {
  mode: FindMode;
  pattern: string;
  matchCase: boolean;
  scope: FindScope;
}

/** Marks per byte of a row: 0 none, HIT another hit, CURRENT the selected hit. */
export const MARK_HIT = 1;
export const MARK_CURRENT = 2;
/** Most hits kept for highlighting around next/previous hits (the "Find all" list has its own limit). */
const MAX_NEAR = 2048;

/** [start, end) of a scope, or why it cannot be used. `anchor` is the cursor when the query was first run. */
export function scopeRange(
  scope: FindScope,
  size: number,
  table: PartitionTable | undefined,
  anchor: number,
): { start: number; end: number } | { error: string } {
  if (scope.kind === 'disk') return { start: 0, end: size };
  if (scope.kind === 'cursor') return { start: Math.min(Math.max(0, anchor), size), end: size };
  if (scope.kind === 'file') return { error: 'error' in scope ? scope.error : 'a guest file is not one byte range of the disk' };
  const p = table?.partitions[scope.index];
  if (!p) return { error: 'no such partition' };
  const start = Math.min(p.start, size);
  const end = Math.min(p.end, size);
  if (end <= start) return { error: 'the partition lies outside the disk' };
  return { start, end };
}

/** The file to search in, or why the field's text does not name one. */
export type FileChoice = { volume: string; path: string } | { error: string };

/** `[N:]/path` in the field, with the volume the scope list chose (or the only readable one) when it has no `N:`. */
export function parseFileChoice(text: string, chosen: string | undefined, volumes: readonly GuestVolumeInfo[]): FileChoice {
  const m = /^([^/:]+):(\/.*)$/.exec(text.trim());
  const path = m ? m[2] : text.trim();
  let volume = m ? m[1] : chosen;
  if (!path) return { error: t('Type the path of a guest file, e.g. 2:/etc/hosts') };
  if (!path.startsWith('/') || path.includes('\0') || path.length > MAX_GUEST_PATH || path.split('/').some((c) => c === '.' || c === '..'))
    return { error: t('Not an absolute guest path: {0}', path.slice(0, 80)) };
  if (volume === undefined) {
    const readable = volumes.filter((v) => v.readable);
    if (readable.length !== 1) return { error: t('Name the partition as N:/path') };
    volume = readable[0].key;
  }
  if (!/^[A-Za-z0-9+_.-]{1,128}$/.test(volume)) return { error: t('No partition or logical volume {0}', volume.slice(0, 40)) };
  return { volume, path };
}

/** Identity of a query: results of another query are not reused. */
export function queryKey(q: FindQuery): string {
  const s = q.scope;
  const scope = s.kind === 'partition' ? `p${s.index}` : s.kind === 'file' ? ('error' in s ? 'file!' : `file:${s.volume}:${s.path}`) : s.kind;
  return `${q.mode}\u0000${q.matchCase ? 1 : 0}\u0000${scope}\u0000${q.pattern}`;
}

/** The partition holding `offset` (its name, or "partition N"), if any. */
export function partitionAt(table: PartitionTable | undefined, offset: number): string | undefined {
  const p = table?.partitions.find((x) => !x.extended && offset >= x.start && offset < x.end);
  if (!p) return undefined;
  return p.name ? `${p.number} ${p.name}` : `${p.number}`;
}

/** Index of the first hit whose offset is >= `offset` (hits sorted by offset). */
function lowerBound(hits: readonly FindHit[], offset: number): number {
  let lo = 0;
  let hi = hits.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (hits[mid].offset < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Inserts hits (any order) into a sorted list without duplicates. */
function mergeSorted(list: FindHit[], hits: readonly FindHit[]): void {
  for (const h of hits) {
    const i = lowerBound(list, h.offset);
    if (list[i]?.offset === h.offset) continue;
    list.splice(i, 0, h);
  }
}

export class FindResults {
  /** "Find all" hits, ascending. */
  readonly all: FindHit[] = [];
  /** Hits found around next/previous hits (for highlighting), ascending, bounded. */
  private near: FindHit[] = [];
  /** The "Find all" list covers the whole scope (not stopped by the limit or a cancel). */
  complete = false;
  limitReached = false;
  current?: FindHit;
  /** The longest hit seen (how far back a hit may start and still touch a row). */
  private longest = 1;

  constructor(readonly limit = FIND_RESULT_LIMIT) {}

  /** Adds "Find all" hits (streamed in ascending order); returns false once the limit is reached. */
  addAll(hits: readonly FindHit[]): boolean {
    const room = this.limit - this.all.length;
    if (room <= 0) return false;
    const take = hits.length > room ? hits.slice(0, room) : hits;
    const last = this.all[this.all.length - 1];
    if (!last || take.every((h, i) => h.offset > (i === 0 ? last.offset : take[i - 1].offset))) this.all.push(...take);
    else mergeSorted(this.all, take);
    for (const h of take) this.longest = Math.max(this.longest, h.length);
    if (this.all.length >= this.limit) this.limitReached = true;
    return this.all.length < this.limit;
  }

  addNear(hits: readonly FindHit[]): void {
    if (this.near.length + hits.length > MAX_NEAR) this.near = [];
    mergeSorted(this.near, hits.slice(0, MAX_NEAR));
    for (const h of hits) this.longest = Math.max(this.longest, h.length);
  }

  /** Makes `hit` the selected one (and known for highlighting). */
  select(hit: FindHit): void {
    this.current = hit;
    this.longest = Math.max(this.longest, hit.length);
  }

  clear(): void {
    this.all.length = 0;
    this.near = [];
    this.complete = false;
    this.limitReached = false;
    this.current = undefined;
    this.longest = 1;
  }

  /**
   * Next or previous hit in the "Find all" list from `cursor`, wrapping round its ends. Only when the list is
   * complete (otherwise the host searches), or `partial` (a guest file's list: the host cannot step in a file).
   * `wrapped` says it went round.
   */
  step(cursor: number, forward: boolean, partial = false): { hit: FindHit; index: number; wrapped: boolean } | undefined {
    if ((!this.complete && !partial) || this.all.length === 0) return undefined;
    const hits = this.all;
    if (forward) {
      const from = this.current?.offset === cursor ? cursor + 1 : cursor;
      const i = lowerBound(hits, from);
      return i < hits.length ? { hit: hits[i], index: i, wrapped: false } : { hit: hits[0], index: 0, wrapped: true };
    }
    const i = lowerBound(hits, cursor) - 1;
    return i >= 0 ? { hit: hits[i], index: i, wrapped: false } : { hit: hits[hits.length - 1], index: hits.length - 1, wrapped: true };
  }

  /** Where a host search for the next/previous hit starts: just past the current hit, or at the cursor. */
  origin(cursor: number, forward: boolean, start: number, end: number): number {
    const from = forward && this.current?.offset === cursor ? cursor + 1 : cursor;
    return Math.min(Math.max(from, start), end);
  }

  /** Position of the current hit in the "Find all" list (-1 when not in it). */
  indexOfCurrent(): number {
    const c = this.current;
    if (!c) return -1;
    const i = lowerBound(this.all, c.offset);
    return this.all[i]?.offset === c.offset ? i : -1;
  }

  /**
   * Per-byte marks for the row [start, start + n), or undefined when no known hit touches it. Hits are looked up by
   * binary search, so this costs O(log hits + hits in the row).
   */
  marks(start: number, n: number): Uint8Array | undefined {
    let out: Uint8Array | undefined;
    const end = start + n;
    const paint = (h: FindHit, mark: number) => {
      const from = Math.max(start, h.offset);
      const to = Math.min(end, h.offset + Math.max(1, h.length));
      if (to <= from) return;
      out ??= new Uint8Array(n);
      for (let o = from; o < to; o++) if (out[o - start] < mark) out[o - start] = mark;
    };
    for (const list of [this.all, this.near]) {
      // Hits starting before the row may reach into it: look back by the longest hit seen.
      for (let i = lowerBound(list, start - this.longest); i < list.length && list[i].offset < end; i++) paint(list[i], MARK_HIT);
    }
    if (this.current) paint(this.current, MARK_CURRENT);
    return out;
  }
}
