/** Usage: host file usage by category, as a stacked bar and a table. */
import type { HostMessage, UsageData } from '../../src/shared/protocol';
import { decimal, formatBytes, percent } from '../../src/shared/format';
import { h, icon, setChildren } from '../dom';
import { post } from '../host';
import { t } from '../l10n';
import { usageColor } from '../kinds';
import type { View } from './view';

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
    const total = Math.max(
      1,
      u.categories.reduce((a, c) => a + c.bytes, 0),
    );
    const bar = h('div', { class: 'usage-bar', role: 'img', 'aria-label': t('Host file usage by category') });
    const rows = u.categories.map((c) => {
      const color = usageColor(c.category);
      const seg = h('span', { class: 'usage-seg', title: `${c.category}: ${formatBytes(c.bytes)}` });
      seg.style.width = `${(c.bytes / total) * 100}%`;
      seg.style.background = color;
      bar.appendChild(seg);
      const sw = h('span', { class: 'swatch' });
      sw.style.background = color;
      return h(
        'tr',
        null,
        h('td', null, sw, ' ', c.category),
        h('td', null, formatBytes(c.bytes)),
        h('td', null, decimal(c.clusters)),
        h('td', null, percent(c.bytes / total)),
      );
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
