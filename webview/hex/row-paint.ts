/**
 * Draws one column of one row as a few spans: consecutive bytes with the same look (kind colour, selection,
 * cursor) share a span, so a screen of 16-byte rows is a few hundred elements rather than thousands, and a
 * redraw touches only spans whose text or class changed. Clicks map back to bytes by character position
 * (the grid uses a monospace font).
 */

/** Where each byte's two hex digits start in a row's hex string, and the separators before them. */
export interface HexColumnLayout {
  starts: number[];
  seps: string[];
  /** Width of the hex string in characters. */
  width: number;
}

export function hexColumnLayout(bytesPerRow: number, group: number): HexColumnLayout {
  const starts: number[] = [];
  const seps: string[] = [];
  let pos = 0;
  for (let i = 0; i < bytesPerRow; i++) {
    const sep = i === 0 ? '' : group === 1 ? ' ' : i % group === 0 ? ' ' : '';
    seps.push(sep);
    pos += sep.length;
    starts.push(pos);
    pos += 2;
  }
  return { starts, seps, width: pos };
}

/** The byte under character `col` of the hex string (a separator counts for the byte after it). */
export function byteAtHexColumn(col: number, layout: HexColumnLayout): number {
  const { starts } = layout;
  let i = 0;
  while (i + 1 < starts.length && starts[i + 1] - layout.seps[i + 1].length <= col) i++;
  return i;
}

/** Pieces of one row column: parallel arrays reused across rows (no allocation per redraw). */
export class Pieces {
  texts: string[] = [];
  classes: string[] = [];
  n = 0;

  reset(): void {
    this.n = 0;
  }

  /** Appends text with a class, merging into the previous piece when the class is the same. */
  add(text: string, cls: string): void {
    if (this.n > 0 && this.classes[this.n - 1] === cls) {
      this.texts[this.n - 1] += text;
      return;
    }
    this.texts[this.n] = text;
    this.classes[this.n] = cls;
    this.n++;
  }
}

/** A column's spans, updated in place. */
export class SpanPool {
  private spans: HTMLElement[] = [];
  private texts: string[] = [];
  private classes: string[] = [];

  constructor(readonly box: HTMLElement) {}

  paint(p: Pieces): void {
    while (this.spans.length < p.n) {
      const s = document.createElement('span');
      this.box.appendChild(s);
      this.spans.push(s);
      this.texts.push('');
      this.classes.push('');
    }
    for (let i = 0; i < this.spans.length; i++) {
      const text = i < p.n ? p.texts[i] : '';
      const cls = i < p.n ? p.classes[i] : '';
      if (this.texts[i] !== text) {
        this.spans[i].textContent = text;
        this.texts[i] = text;
      }
      if (this.classes[i] !== cls) {
        this.spans[i].className = cls;
        this.classes[i] = cls;
      }
    }
  }
}
