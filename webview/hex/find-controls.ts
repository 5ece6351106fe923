/** Small builders for the find bar's controls (@vscode-elements/elements components with codicons). */
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-single-select/index.js';
import '@vscode-elements/elements/dist/vscode-option/index.js';
import '@vscode-elements/elements/dist/vscode-toolbar-button/index.js';
import '@vscode-elements/elements/dist/vscode-progress-bar/index.js';

export type Control = HTMLElement & { value: string };
export type Toggle = HTMLElement & { checked: boolean };

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, cls?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

export function iconButton(icon: string, label: string, onClick: () => void, toggleable = false): Toggle {
  const b = document.createElement('vscode-toolbar-button') as unknown as Toggle;
  b.setAttribute('icon', icon);
  b.setAttribute('label', label);
  b.title = label;
  if (toggleable) b.setAttribute('toggleable', '');
  b.addEventListener('click', onClick);
  return b;
}

export function select(label: string, options: Array<[string, string]>): Control {
  const s = document.createElement('vscode-single-select') as unknown as Control;
  s.setAttribute('aria-label', label);
  s.title = label;
  setOptions(s, options);
  return s;
}

export function setOptions(s: Control, options: Array<[string, string]>): void {
  const keep = s.value;
  s.textContent = '';
  for (const [value, text] of options) {
    const o = el('vscode-option' as 'option', undefined, text);
    o.setAttribute('value', value);
    s.append(o);
  }
  s.value = options.some(([v]) => v === keep) ? keep : options[0][0];
}

/** The progress row of a running search: a bar, "done of total", and the cancel button. */
export class ProgressRow {
  readonly el = el('div', 'hx-find-progress');
  private readonly bar = document.createElement('vscode-progress-bar') as unknown as HTMLElement & { value: number; max: number };
  private readonly text = el('span', 'hx-find-ptext');

  constructor(label: string, cancel: HTMLElement) {
    this.bar.setAttribute('aria-label', label);
    this.bar.max = 100;
    this.el.append(this.bar, this.text, cancel);
    this.el.hidden = true;
  }

  /** `done` of `total`, and the text to show for it (empty: none). */
  set(done: number, total: number, text: string): void {
    this.bar.value = total > 0 ? Math.min(100, (done / total) * 100) : 0;
    this.text.textContent = text;
  }
}
