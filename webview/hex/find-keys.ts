/**
 * The Find widget's keys: Ctrl+F opens it and F3 / Shift+F3 go to the next / previous hit (from the bytes too);
 * in the box Enter / Shift+Enter do; Alt+C toggles match case while it is open; Escape closes it.
 */
import type { FindAction } from '../../src/shared/protocol';

export interface FindKeyTarget {
  isOpen(): boolean;
  hasPattern(): boolean;
  open(): void;
  close(): void;
  run(action: FindAction): void;
  toggleCase(): void;
}

function stop(e: KeyboardEvent): void {
  e.preventDefault();
  e.stopPropagation();
}

/** Keys on the hex view's root (caught there), on the bar, and in the pattern box. */
export function bindFindKeys(root: HTMLElement, bar: HTMLElement, input: HTMLElement, f: FindKeyTarget): void {
  input.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter') return;
    stop(e);
    f.run(e.shiftKey ? 'previous' : 'next');
  });
  bar.addEventListener('keydown', (e) => {
    if (e.key !== 'Escape') return;
    stop(e);
    f.close();
  });
  root.addEventListener('keydown', (e) => {
    const ctrl = e.ctrlKey || e.metaKey;
    if (ctrl && !e.altKey && !e.shiftKey && (e.key === 'f' || e.key === 'F')) f.open();
    else if (e.key === 'F3' && !ctrl && !e.altKey) {
      if (!f.isOpen() || !f.hasPattern()) f.open();
      if (f.hasPattern()) f.run(e.shiftKey ? 'previous' : 'next');
    } else if (e.altKey && !ctrl && (e.key === 'c' || e.key === 'C') && f.isOpen()) f.toggleCase();
    else return;
    stop(e);
  });
}
