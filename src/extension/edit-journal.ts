/**
 * The hex view's edit journal: replace-only edits of guest bytes, kept in memory until Save writes them
 * through the engine. It keeps
 *  - the undo/redo history (each entry one CustomDocumentEditEvent), and
 *  - an overlay of merged, non-overlapping extents that records, for every byte touched since the last save,
 *    its value on disk and its current value; a byte is pending when the two differ.
 * The overlay is what reads see (overlay()) and what Save writes, so overlapping edits are merged and undo
 * after a save writes the old bytes back. Memory is bounded by MAX_JOURNAL_BYTES.
 * No `vscode` import at module level: unit tests run it in plain Node.
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Uri } from 'vscode';
import { Qcow2Error, type Qcow2Dev } from '../qcow2';

/** One replace-only edit of guest bytes. `before` and `after` have the same length. */
export interface JournalEdit {
  offset: number;
  before: Uint8Array;
  after: Uint8Array;
}

/** History plus overlay bytes allowed before the user must save or revert. */
export const MAX_JOURNAL_BYTES = 32 * 1024 * 1024;
/** Undo steps kept before the user must save or revert. */
export const MAX_JOURNAL_EDITS = 100_000;

/** What saveTo needs from the device: Qcow2Dev's write path. */
export interface JournalTarget {
  writeAt(buf: Uint8Array, offset: number): Promise<unknown>;
  flushMeta(): Promise<void>;
  readonly io: { fsync(): Promise<void> };
  readonly dataIo?: { fsync(): Promise<void> };
  readonly virtualSize?: number;
}

interface Extent {
  offset: number;
  disk: Uint8Array;
  cur: Uint8Array;
}

const BACKUP_MAGIC = 'qcow2-inspector-edit-journal';
const BACKUP_VERSION = 1;

export class EditJournal {
  private history: JournalEdit[] = [];
  /** Number of history entries currently applied. */
  private pos = 0;
  private extents: Extent[] = [];
  /** Bytes whose current value differs from the disk. */
  private pendingBytes = 0;
  private historyBytes = 0;
  private overlayBytes = 0;

  /** `virtualSize` (when known) makes apply() reject edits beyond the end of the disk. */
  constructor(readonly virtualSize = Number.MAX_SAFE_INTEGER) {}

  get isDirty(): boolean {
    return this.pendingBytes > 0;
  }

  get canUndo(): boolean {
    return this.pos > 0;
  }

  get canRedo(): boolean {
    return this.pos < this.history.length;
  }

  /** Number of guest bytes that differ from the disk. */
  get pendingByteCount(): number {
    return this.pendingBytes;
  }

  apply(edit: JournalEdit): void {
    const { offset, before, after } = edit;
    if (!Number.isSafeInteger(offset) || offset < 0 || before.length !== after.length || after.length === 0) {
      throw new Qcow2Error('invalid-argument', `invalid edit of ${after.length} bytes at offset ${offset}`);
    }
    if (offset + after.length > this.virtualSize) {
      throw new Qcow2Error('range', `edit at offset ${offset} runs past the end of the disk (${this.virtualSize} bytes)`);
    }
    const dropped = this.history.splice(this.pos);
    for (const e of dropped) this.historyBytes -= 2 * e.after.length;
    if (this.history.length >= MAX_JOURNAL_EDITS || this.historyBytes + this.overlayBytes + 4 * after.length > MAX_JOURNAL_BYTES) {
      throw new Qcow2Error('limit', `too many unsaved edits (limit ${MAX_JOURNAL_EDITS} edits or ${MAX_JOURNAL_BYTES >> 20} MiB): save or revert first`);
    }
    const copy = { offset, before: before.slice(), after: after.slice() };
    this.history.push(copy);
    this.historyBytes += 2 * after.length;
    this.pos++;
    this.put(offset, copy.before, copy.after);
  }

  undo(): void {
    if (this.pos === 0) return;
    const e = this.history[--this.pos];
    this.put(e.offset, e.after, e.before);
  }

  redo(): void {
    if (this.pos >= this.history.length) return;
    const e = this.history[this.pos++];
    this.put(e.offset, e.before, e.after);
  }

  /** Drops the pending edits and the history: the document shows the disk again. */
  revert(): void {
    this.history = [];
    this.pos = 0;
    this.extents = [];
    this.pendingBytes = this.historyBytes = this.overlayBytes = 0;
  }

  /** Applies the current values of touched bytes onto `buf`, read from the device at `offset`. */
  overlay(offset: number, buf: Uint8Array): void {
    const end = offset + buf.length;
    for (let i = this.firstEndingAfter(offset); i < this.extents.length; i++) {
      const x = this.extents[i];
      if (x.offset >= end) break;
      const from = Math.max(offset, x.offset);
      const to = Math.min(end, x.offset + x.cur.length);
      buf.set(x.cur.subarray(from - x.offset, to - x.offset), from - offset);
    }
  }

  /** Guest ranges whose bytes differ from the disk, as [offset, length] pairs (for Save and for display). */
  pendingRanges(): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (const x of this.extents) {
      let i = 0;
      while (i < x.cur.length) {
        if (x.cur[i] === x.disk[i]) {
          i++;
          continue;
        }
        let j = i + 1;
        while (j < x.cur.length && x.cur[j] !== x.disk[j]) j++;
        out.push([x.offset + i, j - i]);
        i = j;
      }
    }
    return out;
  }

  /** The pending (unsaved, differing) byte ranges within [offset, offset+length). */
  pendingIn(offset: number, length: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    const end = offset + length;
    for (let k = this.firstEndingAfter(offset); k < this.extents.length && this.extents[k].offset < end; k++) {
      const x = this.extents[k];
      const from = Math.max(offset, x.offset) - x.offset;
      const to = Math.min(end, x.offset + x.cur.length) - x.offset;
      for (let i = from; i < to;) {
        if (x.cur[i] === x.disk[i]) {
          i++;
          continue;
        }
        let j = i + 1;
        while (j < to && x.cur[j] !== x.disk[j]) j++;
        out.push([x.offset + i, j - i]);
        i = j;
      }
    }
    return out;
  }

  /**
   * Writes every pending byte range with writeAt, then flushMeta, then fsyncs the image (and its data file).
   * On failure the ranges already written count as saved and the rest stay pending, so retrying is safe.
   */
  async saveTo(target: JournalTarget | Qcow2Dev): Promise<void> {
    // Qcow2Dev's write path (writeAt/flushMeta) is what JournalTarget describes.
    const dev = target as unknown as JournalTarget;
    for (const [offset, length] of this.pendingRanges()) {
      const x = this.extents[this.firstEndingAfter(offset)];
      const at = offset - x.offset;
      await dev.writeAt(x.cur.slice(at, at + length), offset);
      x.disk.set(x.cur.subarray(at, at + length), at);
      this.pendingBytes -= length;
    }
    await dev.flushMeta();
    await dev.io.fsync();
    await dev.dataIo?.fsync();
    // Everything touched now matches the disk: the overlay is no longer needed (history stays for undo).
    this.extents = [];
    this.overlayBytes = 0;
    this.pendingBytes = 0;
  }

  /** Writes the journal (never the image) for hot exit. */
  async backup(destination: Uri | string): Promise<void> {
    const body = JSON.stringify({
      magic: BACKUP_MAGIC,
      version: BACKUP_VERSION,
      virtualSize: this.virtualSize === Number.MAX_SAFE_INTEGER ? undefined : this.virtualSize,
      pos: this.pos,
      history: this.history.map((e) => [e.offset, b64(e.before), b64(e.after)]),
      extents: this.extents.map((x) => [x.offset, b64(x.disk), b64(x.cur)]),
    });
    await writeTo(destination, new TextEncoder().encode(body));
  }

  /** Reads a journal written by backup(); a damaged or foreign file is an error naming it. */
  static async restore(source: Uri | string): Promise<EditJournal> {
    const name = typeof source === 'string' ? source : source.toString();
    const bad = (why: string) => new Qcow2Error('bad-image', `not a usable edit journal backup: ${why}`, name);
    let o: { magic?: string; version?: number; virtualSize?: number; pos?: number; history?: unknown; extents?: unknown };
    try {
      o = JSON.parse(new TextDecoder().decode(await readFrom(source)));
    } catch (err) {
      throw bad((err as Error).message.split('\n')[0]);
    }
    if (o?.magic !== BACKUP_MAGIC || o.version !== BACKUP_VERSION) throw bad('unknown format');
    const j = new EditJournal(o.virtualSize ?? Number.MAX_SAFE_INTEGER);
    const triples = (v: unknown): Array<[number, Uint8Array, Uint8Array]> => {
      if (!Array.isArray(v)) throw bad('missing entries');
      return v.map((t) => {
        if (!Array.isArray(t) || !Number.isSafeInteger(t[0]) || t[0] < 0 || typeof t[1] !== 'string' || typeof t[2] !== 'string') throw bad('bad entry');
        const a = unb64(t[1]);
        const b = unb64(t[2]);
        if (a.length !== b.length || a.length === 0 || t[0] + a.length > j.virtualSize) throw bad('bad entry');
        return [t[0], a, b];
      });
    };
    j.history = triples(o.history).map(([offset, before, after]) => ({ offset, before, after }));
    if (!Number.isSafeInteger(o.pos) || o.pos! < 0 || o.pos! > j.history.length) throw bad('bad position');
    j.pos = o.pos!;
    j.historyBytes = j.history.reduce((n, e) => n + 2 * e.after.length, 0);
    for (const [offset, disk, cur] of triples(o.extents)) {
      // Re-inserting through put() re-merges, recounts and re-checks the bounds.
      j.put(offset, disk, cur);
    }
    if (j.historyBytes + j.overlayBytes > MAX_JOURNAL_BYTES || j.history.length > MAX_JOURNAL_EDITS) throw bad('too large');
    return j;
  }

  /**
   * Sets bytes at `offset` from `prev` (their value before this step) to `next`. Bytes not yet in the overlay
   * equal the disk, so `prev` is their disk value.
   */
  private put(offset: number, prev: Uint8Array, next: Uint8Array): void {
    const end = offset + next.length;
    // Extents that overlap or touch [offset, end) merge into one.
    const lo = this.firstEndingAfter(offset - 1);
    let hi = lo;
    while (hi < this.extents.length && this.extents[hi].offset <= end) hi++;
    const merged = this.extents.slice(lo, hi);
    const start = Math.min(offset, merged[0]?.offset ?? offset);
    const stop = Math.max(end, ...merged.map((x) => x.offset + x.cur.length));
    let ext: Extent;
    if (merged.length === 1 && merged[0].offset === start && merged[0].cur.length === stop - start) {
      ext = merged[0];
    } else {
      ext = { offset: start, disk: new Uint8Array(stop - start), cur: new Uint8Array(stop - start) };
      const covered = new Uint8Array(stop - start);
      for (const x of merged) {
        ext.disk.set(x.disk, x.offset - start);
        ext.cur.set(x.cur, x.offset - start);
        covered.fill(1, x.offset - start, x.offset - start + x.cur.length);
        this.overlayBytes -= 2 * x.cur.length;
      }
      // New bytes start from their disk value, which is `prev`.
      for (let i = 0; i < next.length; i++) {
        const k = offset - start + i;
        if (!covered[k]) ext.disk[k] = ext.cur[k] = prev[i];
      }
      this.overlayBytes += 2 * ext.cur.length;
      this.extents.splice(lo, hi - lo, ext);
    }
    for (let i = 0; i < next.length; i++) {
      const k = offset - start + i;
      const wasPending = ext.cur[k] !== ext.disk[k];
      ext.cur[k] = next[i];
      const isPending = ext.cur[k] !== ext.disk[k];
      this.pendingBytes += Number(isPending) - Number(wasPending);
    }
  }

  /** Index of the first extent whose end is after `offset` (binary search). */
  private firstEndingAfter(offset: number): number {
    let lo = 0;
    let hi = this.extents.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const x = this.extents[mid];
      if (x.offset + x.cur.length > offset) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

function b64(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');
}

function unb64(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'base64'));
}

async function writeTo(dest: Uri | string, data: Uint8Array): Promise<void> {
  if (typeof dest === 'string' || dest.scheme === 'file') {
    // VS Code hands out <storage>/<extension>/<n> without creating the extension's folder (#20: hot exit lost edits).
    // Written beside and renamed, so a crash mid-write leaves the previous backup, never half a journal.
    const path = typeof dest === 'string' ? dest : dest.fsPath;
    await mkdir(dirname(path), { recursive: true });
    await writeFile(`${path}.tmp`, data);
    return rename(`${path}.tmp`, path);
  }
  // workspace.fs creates missing parent folders itself.
  const vscode = await import('vscode');
  await vscode.workspace.fs.writeFile(dest, data);
}

async function readFrom(src: Uri | string): Promise<Uint8Array> {
  if (typeof src === 'string') return readFile(src);
  if (src.scheme === 'file') return readFile(src.fsPath);
  const vscode = await import('vscode');
  return vscode.workspace.fs.readFile(src);
}
