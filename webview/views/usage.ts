/** Usage: host file usage by category, as a stacked bar and a table. */
import type { HostMessage, UsageData } from '../../src/shared/protocol';
import { decimal, formatBytes, percent } from '../../src/shared/format';
import { h, icon, setChildren } from '../dom';
import { post } from '../host';
import { t } from '../l10n';
import type { View } from '../main';

/** Theme colour of a category: guest data like the map (blue, compressed purple), metadata in other hues, leaks red. */
function colorOf(category: string): string {
  const c = category.toLowerCase();
  if (c.includes('leak')) return 'var(--vscode-charts-red)';
  if (c.includes('free')) return 'var(--vscode-disabledForeground)';
  if (c.includes('compressed')) return 'var(--vscode-charts-purple)';
  if (c === 'data' || c.includes('bitmap data')) return 'var(--vscode-charts-blue)';
  if (c.includes('l2')) return 'var(--vscode-charts-orange)';
  if (c.includes('l1')) return 'var(--vscode-charts-green)';
  if (c.includes('refcount')) return 'var(--vscode-charts-yellow)';
  return 'var(--vscode-charts-foreground)';
}

export class UsageView implements View {
  readonly id = 'usage' as const;
  readonly el = h('section', { class: 'view usage', 'aria-label': 'Usage' }, h('p', { class: 'muted' }, t('Computing cluster usage…')));
  private requested = false;

  shown(): void {
    if (!this.requested) {
      this.requested = true;
      post({ type: 'requestUsage' });
    }
  }

  handle(msg: HostMessage): void {
    if (msg.type === 'usage') this.render(msg.data);
    else if (msg.type === 'refresh') this.requested = false;
    else if (msg.type === 'overview' && !this.requested && this.el.offsetParent !== null) this.shown(); // reloaded while visible
  }

  private render(u: UsageData): void {
    if (!u.available) {
      setChildren(this.el, h('p', { class: 'message' }, icon('info'), ' ', t('Cluster usage is not available in this build yet.')));
      return;
    }
    const total = Math.max(1, u.categories.reduce((a, c) => a + c.bytes, 0));
    const bar = h('div', { class: 'usage-bar', role: 'img', 'aria-label': t('Host file usage by category') });
    const rows = u.categories.map((c) => {
      const color = colorOf(c.category);
      const seg = h('span', { class: 'usage-seg', title: `${c.category}: ${formatBytes(c.bytes)}` });
      seg.style.width = `${(c.bytes / total) * 100}%`;
      seg.style.background = color;
      bar.appendChild(seg);
      const sw = h('span', { class: 'swatch' });
      sw.style.background = color;
      return h('tr', null, h('td', null, sw, ' ', c.category), h('td', null, formatBytes(c.bytes)), h('td', null, decimal(c.clusters)), h('td', null, percent(c.bytes / total)));
    });
    setChildren(
      this.el,
      h('p', null, t('File size {0}, clusters of {1}', formatBytes(u.fileSize), formatBytes(u.clusterSize))),
      bar,
      h(
        'table',
        { class: 'grid usage-table' },
        h('thead', null, h('tr', null, ...[t('Category'), t('Bytes'), t('Clusters'), t('Share')].map((x) => h('th', { scope: 'col' }, x)))),
        h('tbody', null, ...rows),
      ),
      h('p', { class: 'muted small' }, t('Computed in {0} ms', u.elapsedMs)),
    );
  }
}
