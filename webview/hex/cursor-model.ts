/**
 * The hex view's cursor, selection and typing state, with no DOM: where navigation keys move the cursor, what a
 * selection covers, and what a typed key does in replace-only editing (two hex digits per byte in the hex column,
 * one printable character in the text column).
 */
import { hexDigit } from './row-layout';

export type Column = 'hex' | 'text';

/** What a navigation key does: the cursor's new offset (unclamped), and rows to scroll first (PageUp/PageDown). */
export interface NavMove {
  to: number;
  scrollRows?: number;
}

/** What a typed key does: nothing, the first nibble of a byte, or a whole byte to write at the cursor. */
export type TypeResult = { kind: 'ignored' } | { kind: 'nibble' } | { kind: 'byte'; offset: number; byte: number };

/** Where a navigation key moves a cursor at `c`, with `bpr` bytes per row and `viewRows` rows on screen. */
export function navigationMove(key: string, ctrl: boolean, c: number, bpr: number, viewRows: number, size: number): NavMove | undefined {
  switch (key) {
    case 'ArrowLeft':
      return { to: c - 1 };
    case 'ArrowRight':
      return { to: c + 1 };
    case 'ArrowUp':
      return { to: c - bpr };
    case 'ArrowDown':
      return { to: c + bpr };
    case 'PageUp':
      return { to: c - viewRows * bpr, scrollRows: -viewRows };
    case 'PageDown':
      return { to: c + viewRows * bpr, scrollRows: viewRows };
    case 'Home':
      return { to: ctrl ? 0 : c - (c % bpr) };
    case 'End':
      return { to: ctrl ? size - 1 : c - (c % bpr) + bpr - 1 };
    default:
      return undefined;
  }
}

export class CursorModel {
  cursor = 0;
  /** The other end of the selection, while one is being made. */
  anchor?: number;
  column: Column = 'hex';
  /** The high nibble typed at `offset`, waiting for the low one. */
  nibble?: { offset: number; high: number };

  constructor(public size: number) {}

  /** Clamps an offset to the disk. */
  clamp(o: number): number {
    return Math.min(Math.max(0, Math.floor(o)), Math.max(0, this.size - 1));
  }

  /** Moves the cursor (clamped); `extend` keeps or starts a selection from where it was. Returns the new offset. */
  moveTo(to: number, extend: boolean): number {
    const o = this.clamp(to);
    if (extend) this.anchor ??= this.cursor;
    else this.anchor = undefined;
    this.nibble = undefined;
    this.cursor = o;
    return o;
  }

  /** The selected bytes, inclusive (the cursor's byte alone without a selection). */
  selection(): [number, number] {
    if (this.anchor === undefined) return [this.cursor, this.cursor];
    return [Math.min(this.anchor, this.cursor), Math.max(this.anchor, this.cursor)];
  }

  toggleColumn(): void {
    this.column = this.column === 'hex' ? 'text' : 'hex';
    this.nibble = undefined;
  }

  /** Escape: drops the selection and a half-typed byte. */
  clear(): void {
    this.anchor = undefined;
    this.nibble = undefined;
  }

  /** A key typed at the cursor. The caller writes a `byte` result and then moves the cursor on. */
  type(key: string): TypeResult {
    const c = this.cursor;
    if (this.column === 'hex') {
      const d = hexDigit(key);
      if (d === undefined) return { kind: 'ignored' };
      if (!this.nibble || this.nibble.offset !== c) {
        this.nibble = { offset: c, high: d };
        return { kind: 'nibble' };
      }
      const byte = (this.nibble.high << 4) | d;
      this.nibble = undefined;
      return { kind: 'byte', offset: c, byte };
    }
    const code = key.length === 1 ? key.charCodeAt(0) : -1;
    if (code < 0x20 || code > 0x7e) return { kind: 'ignored' };
    return { kind: 'byte', offset: c, byte: code };
  }

  /** Whether a refused key would have been an edit (so the view says why it was refused). */
  wouldEdit(key: string): boolean {
    return hexDigit(key) !== undefined || this.column === 'text';
  }
}
