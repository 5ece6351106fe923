/**
 * The custom editor's webview: a header bar and tabs (Overview, Backing chain, Map, Integrity, Usage, Hex, Files).
 * Each view lives in views/; data comes from the host through host.ts; all text is set as text.
 */
import '@vscode-elements/elements/dist/vscode-tabs/index.js';
import '@vscode-elements/elements/dist/vscode-tab-header/index.js';
import '@vscode-elements/elements/dist/vscode-tab-panel/index.js';
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-badge/index.js';
import '@vscode-elements/elements/dist/vscode-collapsible/index.js';
import '@vscode-elements/elements/dist/vscode-progress-ring/index.js';
import '@vscode-elements/elements/dist/vscode-icon/index.js';
import type { ViewId } from '../src/shared/protocol';
import { VIEW_IDS } from '../src/shared/protocol';
import { h, icon, setChildren } from './dom';
import { onMessage, post, getState, updateState } from './host';
import { setBundle, t } from './l10n';
import { OverviewView } from './views/overview';
import { ChainView } from './views/chain';
import { MapView } from './views/map';
import { IntegrityView } from './views/integrity';
import { UsageView } from './views/usage';
import { HexSlot } from './views/hex-slot';
import { FilesView } from './views/files';
import type { View, ViewContext } from './views/view';
import { onFindHits, onPartitions, REVEAL_FILE_EVENT } from './hex/index';

const app = document.getElementById('app')!;
const titleEl = h('span', { class: 'title' });
const badges = h('span', { class: 'badges' });
const header = h('header', { class: 'bar' }, icon('database'), titleEl, badges);
const body = h('div', { class: 'body' }, h('div', { class: 'loading' }, h('vscode-progress-ring'), t('Opening image…')));
const statusLine = h('div', { class: 'status-line', role: 'status', hidden: true });
statusLine.addEventListener('click', () => (statusLine.hidden = true));
setChildren(app, header, body, statusLine);

let views: View[] = [];
let tabs: HTMLElement & { selectedIndex: number };
let current: ViewId = getState().view;
/** The views' context: one object, updated in place on init and settings, so views always read the current value. */
const ctx: ViewContext & { editable: boolean; sectorSize: number } = {
  editable: false,
  sectorSize: 512,
  goHex: (offset) => {
    select('hex');
    (views.find((v) => v.id === 'hex') as HexSlot | undefined)?.goTo(offset);
  },
  partitions: { subscribe: onPartitions },
  findHits: { subscribe: onFindHits },
};

function labels(): Record<ViewId, string> {
  return { overview: t('Overview'), chain: t('Backing chain'), map: t('Map'), integrity: t('Integrity'), usage: t('Usage'), hex: t('Hex'), files: t('Files') };
}

function buildTabs(initial: ViewId): void {
  const hex = new HexSlot(ctx);
  views = [new OverviewView(), new ChainView(), new MapView(ctx), new IntegrityView(ctx), new UsageView(), hex, new FilesView()];
  const l = labels();
  const iconsFor: Record<ViewId, string> = {
    overview: 'info',
    chain: 'layers',
    map: 'symbol-array',
    integrity: 'shield',
    usage: 'pie-chart',
    hex: 'file-binary',
    files: 'files',
  };
  tabs = h('vscode-tabs', { panel: true }) as HTMLElement & { selectedIndex: number };
  for (const v of views) {
    tabs.appendChild(h('vscode-tab-header', { slot: 'header', 'data-tab': v.id }, icon(iconsFor[v.id]), ' ', l[v.id]));
    tabs.appendChild(h('vscode-tab-panel', { 'data-view': v.id }, v.el));
  }
  tabs.addEventListener('vsc-tabs-select', (e: Event) => {
    const i = (e as CustomEvent<{ selectedIndex: number }>).detail.selectedIndex;
    const v = views[i];
    if (v) activate(v.id);
  });
  setChildren(body, tabs);
  wrapTabHeaders(tabs);
  select(initial);
}

/** The way out of an error page: VS Code's "Reopen Editor With…" (text, hex editor, …). */
function reopenWithButton(): HTMLElement {
  return h('vscode-button', { id: 'reopen-with', onclick: () => post({ type: 'reopenWith' }) }, icon('go-to-file'), ' ', t('Reopen With…'));
}

/**
 * vscode-tabs lays its headers out in one row that never wraps, so in a narrow editor (two side by side) the last
 * tabs were off-screen and unclickable (#20). Its shadow root gets one more sheet: the header row wraps.
 */
function wrapTabHeaders(el: HTMLElement): void {
  const root = el.shadowRoot;
  if (!root) return;
  const sheet = new CSSStyleSheet();
  sheet.replaceSync('.tablist { flex-wrap: wrap; row-gap: 2px; } .header { align-items: flex-start; }');
  root.adoptedStyleSheets = [...root.adoptedStyleSheets, sheet];
}

function activate(id: ViewId): void {
  current = id;
  updateState({ view: id });
  post({ type: 'viewChanged', view: id });
  views.find((v) => v.id === id)?.shown();
}

function select(id: ViewId): void {
  const i = views.findIndex((v) => v.id === id);
  if (i < 0) return;
  tabs.selectedIndex = i;
  activate(id);
}

// Ctrl+G anywhere in the editor (the go-to box included, any tab) is our go-to, never VS Code's Go to Line: caught
// in the capture phase, before the webview forwards the key to the workbench.
window.addEventListener(
  'keydown',
  (e) => {
    if (!(e.ctrlKey || e.metaKey) || e.altKey || e.shiftKey || (e.key !== 'g' && e.key !== 'G') || views.length === 0) return;
    const hex = views.find((v) => v.id === 'hex') as HexSlot | undefined;
    if (!hex) return;
    e.preventDefault();
    e.stopImmediatePropagation();
    hex.focusGoto();
    if (current === 'hex') return; // already shown: re-showing it would move the keyboard out of the box mid-typing
    select('hex');
    // The tab list may move focus again once it has switched: take it back after that too.
    requestAnimationFrame(() => requestAnimationFrame(() => hex.focusGoto()));
  },
  true,
);

// The hex inspector's "Show in Files": the Files tab, opened down to the file that owns the byte.
window.addEventListener(REVEAL_FILE_EVENT, (e) => {
  const file = (e as CustomEvent<{ volume: string; path: string }>).detail;
  const files = views.find((v) => v.id === 'files') as FilesView | undefined;
  if (!files) return;
  select('files');
  void files.reveal(file.volume, file.path);
});

// Keyboard: Alt+1..7 switch tabs (the tab headers also take arrow keys when focused).
window.addEventListener('keydown', (e) => {
  if (e.altKey && !e.ctrlKey && !e.metaKey && e.key >= '1' && e.key <= String(VIEW_IDS.length)) {
    select(VIEW_IDS[Number(e.key) - 1]);
    e.preventDefault();
  }
});

onMessage((m) => {
  switch (m.type) {
    case 'init': {
      setBundle(m.strings);
      ctx.editable = m.editable;
      ctx.sectorSize = m.settings.sectorSize;
      titleEl.textContent = m.fileName;
      setChildren(badges, m.editable ? null : h('vscode-badge', { variant: 'counter', title: m.readOnlyReason ?? '' }, t('read-only')));
      if (views.length === 0) buildTabs(current);
      return;
    }
    case 'notQcow2':
      setChildren(
        body,
        h(
          'div',
          { class: 'message error', role: 'alert' },
          icon('error'),
          h('strong', null, t('Not a qcow2 image')),
          h('p', null, m.fileName),
          h('p', null, m.message),
          reopenWithButton(),
        ),
      );
      return;
    case 'openError':
      setChildren(
        body,
        h(
          'div',
          { class: 'message error', role: 'alert' },
          icon('error'),
          h('strong', null, t('The image cannot be opened')),
          h('p', null, m.message),
          reopenWithButton(),
        ),
      );
      return;
    case 'showView':
      if (m.view === 'hex' && m.offset !== undefined) (views.find((v) => v.id === 'hex') as HexSlot | undefined)?.goTo(m.offset);
      select(m.view);
      if (m.view === 'integrity' && m.finding !== undefined) (views.find((v) => v.id === 'integrity') as IntegrityView | undefined)?.focusFinding(m.finding);
      return;
    case 'settings':
      ctx.sectorSize = m.settings.sectorSize;
      break;
    case 'error':
      statusLine.textContent = m.message;
      statusLine.hidden = false;
      break;
    case 'refresh':
      // The image was reopened (unlocked, saved, repaired): an error from before is stale.
      statusLine.hidden = true;
      break;
  }
  for (const v of views) v.handle(m);
});

post({ type: 'ready' });
