/** Backing chain: every layer with its file, format, sizes and allocated share; errors per layer; click to open. */
import type { ChainLayerInfo, HostMessage } from '../../src/shared/protocol';
import { formatBytes, percent } from '../../src/shared/format';
import { h, icon, setChildren } from '../dom';
import { post } from '../host';
import { t } from '../l10n';
import type { View } from './view';

export class ChainView implements View {
  readonly id = 'chain' as const;
  readonly el = h('section', { class: 'view chain', 'aria-label': 'Backing chain' }, h('p', { class: 'muted' }, t('Resolving the backing chain…')));

  shown(): void {}

  handle(msg: HostMessage): void {
    if (msg.type === 'chain') this.render(msg.layers);
  }

  private render(layers: ChainLayerInfo[]): void {
    const rows = layers.map((l) => {
      const open = (): void => post({ type: 'openLayer', depth: l.depth });
      const canOpen = !l.error && l.format === 'qcow2' && l.depth > 0;
      const name = canOpen
        ? h('a', { href: '#', class: 'link', title: t('Open this layer in its own editor'), onclick: (e: Event) => (e.preventDefault(), open()) }, l.path)
        : h('span', null, l.path);
      const share =
        l.shareAllocated !== undefined
          ? h('span', { class: 'share' }, h('span', { class: 'share-bar' }, shareFill(l.shareAllocated)), ` ${percent(l.shareAllocated)}`)
          : h('span', { class: 'muted' }, '…');
      const tr = h(
        'tr',
        {
          class: l.error ? 'layer error' : 'layer',
          tabindex: canOpen ? 0 : undefined,
          onkeydown: (e: Event) => canOpen && (e as KeyboardEvent).key === 'Enter' && open(),
        },
        h('td', null, l.depth === 0 ? t('top') : `−${l.depth}`),
        h(
          'td',
          { class: 'file' },
          name,
          l.recordedName !== undefined && l.recordedName !== l.path ? h('div', { class: 'muted small' }, t('recorded as {0}', l.recordedName)) : null,
          l.error ? h('div', { class: 'error-text', role: 'alert' }, icon('error'), ' ', l.error) : null,
          l.errorKind === 'missing'
            ? h(
                'vscode-button',
                { class: 'locate-backing', secondary: true, onclick: () => post({ type: 'locateBacking', depth: l.depth }) },
                icon('search'),
                ' ',
                t('Locate backing file…'),
              )
            : null,
        ),
        h('td', null, l.format),
        h('td', null, l.virtualSize !== undefined ? formatBytes(l.virtualSize) : '–'),
        h('td', null, l.clusterSize !== undefined ? formatBytes(l.clusterSize) : '–'),
        h('td', null, l.error ? '–' : share),
      );
      return tr;
    });
    setChildren(
      this.el,
      h(
        'table',
        { class: 'grid chain-table' },
        h(
          'thead',
          null,
          h('tr', null, ...[t('Layer'), t('File'), t('Format'), t('Virtual size'), t('Cluster size'), t('Allocated')].map((x) => h('th', { scope: 'col' }, x))),
        ),
        h('tbody', null, ...rows),
      ),
      h('p', { class: 'muted' }, t('Layers are listed from the image down to its base. Click a layer to open it in its own editor.')),
    );
  }
}

function shareFill(f: number): HTMLElement {
  const fill = h('span', { class: 'share-fill' });
  fill.style.width = `${Math.max(0, Math.min(100, f * 100))}%`;
  return fill;
}
