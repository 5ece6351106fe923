/**
 * Tiny DOM builder. Children that are strings become text nodes, so strings from the image (backing names,
 * feature names, snapshot and bitmap names) are never parsed as HTML. There is no innerHTML anywhere.
 */
type Child = Node | string | number | null | undefined | false | Child[];
type Props = Record<string, string | number | boolean | undefined | EventListener>;

export function h<K extends keyof HTMLElementTagNameMap>(tag: K, props?: Props | null, ...children: Child[]): HTMLElementTagNameMap[K];
export function h(tag: string, props?: Props | null, ...children: Child[]): HTMLElement;
export function h(tag: string, props?: Props | null, ...children: Child[]): HTMLElement {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props ?? {})) {
    if (v === undefined || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'class') el.className = String(v);
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Node, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    if (Array.isArray(c)) {
      append(el, c);
      continue;
    }
    el.appendChild(typeof c === 'string' || typeof c === 'number' ? document.createTextNode(String(c)) : c);
  }
}

/** Replaces an element's content with the given children. */
export function setChildren(el: Node, ...children: Child[]): void {
  while (el.firstChild) el.removeChild(el.firstChild);
  append(el, children);
}

export function icon(name: string, label?: string): HTMLElement {
  const i = h('span', { class: `codicon codicon-${name}`, 'aria-hidden': label ? undefined : 'true', 'aria-label': label, role: label ? 'img' : undefined });
  return i;
}

/** A table in a box that scrolls sideways when the table is wider than the view (nothing is cut off). */
export function scrollingTable(headers: string[], rows: Child[][], cls = ''): HTMLElement {
  return h('div', { class: 'table-scroll' }, table(headers, rows, cls));
}

/** A plain table with a header row; cells are built by the caller. */
export function table(headers: string[], rows: Child[][], cls = ''): HTMLTableElement {
  return h(
    'table',
    { class: `grid ${cls}` },
    h('thead', null, h('tr', null, ...headers.map((x) => h('th', { scope: 'col' }, x)))),
    h('tbody', null, ...rows.map((r) => h('tr', null, ...r.map((c) => h('td', null, c))))),
  );
}
