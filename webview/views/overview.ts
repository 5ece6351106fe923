/** Overview: warnings, geometry, header fields with raw values and meanings, features, extensions, snapshots, bitmaps. */
import type { ChainLayerInfo, HostMessage, OverviewData } from '../../src/shared/protocol';
import { post } from '../host';
import { formatBytes, decimal } from '../../src/shared/format';
import { h, icon, setChildren, scrollingTable as table } from '../dom';
import { t } from '../l10n';
import type { View } from './view';

export class OverviewView implements View {
  readonly id = 'overview' as const;
  readonly el = h('section', { class: 'view overview', 'aria-label': 'Overview' }, h('p', { class: 'muted' }, t('Reading the header…')));

  shown(): void {}

  /** The chain at a glance: this image → each backing layer with its format → the base; broken layers in red. */
  private readonly chainEl = h('nav', { class: 'chain-glance', 'aria-label': 'Backing chain' });

  handle(msg: HostMessage): void {
    if (msg.type === 'overview') this.render(msg.data);
    else if (msg.type === 'chain') this.renderChain(msg.layers);
  }

  private renderChain(layers: ChainLayerInfo[]): void {
    const parts: (HTMLElement | string)[] = [];
    layers.forEach((l, i) => {
      if (i > 0) parts.push(h('span', { class: 'arrow', 'aria-hidden': 'true' }, ' → '));
      const label = `${l.path.split('/').pop()} (${l.format})`;
      const canOpen = !l.error && l.format === 'qcow2' && l.depth > 0;
      const title = l.error ? `${l.path}: ${l.error}` : l.path;
      parts.push(
        canOpen
          ? h(
              'a',
              { href: '#', class: 'link glance-layer', title, onclick: (e: Event) => (e.preventDefault(), post({ type: 'openLayer', depth: l.depth })) },
              label,
            )
          : h('span', { class: l.error ? 'glance-layer error-text' : 'glance-layer', title }, l.error ? [icon('error'), ' ', label] : label),
      );
    });
    if (layers.length === 1) parts.push(h('span', { class: 'muted' }, ' ', t('(no backing file)')));
    setChildren(this.chainEl, h('span', { class: 'muted' }, t('Chain:'), ' '), ...parts);
  }

  private render(d: OverviewData): void {
    const warnings = d.warnings.map((w) =>
      h(
        'div',
        { class: `warning warning-${w.kind}`, role: 'alert' },
        icon(w.kind === 'corrupt' || w.kind === 'damaged' ? 'error' : 'warning'),
        h('span', null, w.message),
        ...(w.action === 'unlock' ? [' ', h('vscode-button', { class: 'unlock', onclick: () => post({ type: 'unlock' }) }, t('Unlock…'))] : []),
      ),
    );
    const facts = h(
      'dl',
      { class: 'facts' },
      h('dt', null, t('Virtual size')),
      h('dd', { id: 'fact-virtual-size' }, `${formatBytes(d.virtualSize)} (${decimal(d.virtualSize)} bytes)`),
      h('dt', null, t('File size')),
      h('dd', null, `${formatBytes(d.fileSize)} (${decimal(d.fileSize)} bytes)`),
      h('dt', null, t('Cluster size')),
      h('dd', null, formatBytes(d.clusterSize)),
      h('dt', null, t('Format')),
      h('dd', null, `qcow2 v${d.version}`),
    );
    const fields = table(
      [t('Field'), t('Raw value'), t('Meaning')],
      d.fields.map((f) => [h('code', null, f.name), h('code', null, f.raw), f.meaning]),
      'header-fields',
    );
    const features = d.features.length
      ? table(
          [t('Group'), t('Bit'), t('Name'), t('Source')],
          d.features.map((f) => [f.group, f.bit, f.name, f.fromTable ? t('feature name table') : f.known ? t('built in') : t('unknown')]),
        )
      : h('p', { class: 'muted' }, t('No feature bits set.'));
    const exts = d.extensions.length
      ? table(
          [t('Type'), t('Extension'), t('Length'), t('Content')],
          d.extensions.map((e) => [h('code', null, e.type), e.name, e.length, e.summary]),
        )
      : h('p', { class: 'muted' }, t('No header extensions.'));
    const snaps = d.snapshots.length
      ? table(
          [t('ID'), t('Name'), t('Date'), t('VM clock'), t('VM state'), t('Disk size')],
          d.snapshots.map((s) => [s.id, s.name, s.date, s.vmClock, formatBytes(s.vmStateSize), s.diskSize !== undefined ? formatBytes(s.diskSize) : '–']),
        )
      : h('p', { class: 'muted' }, t('No internal snapshots.'));
    const bitmaps = d.bitmaps.length
      ? table(
          [t('Name'), t('Granularity'), t('Flags')],
          d.bitmaps.map((b) => [b.name, formatBytes(b.granularity), b.flags.join(', ') || '–']),
        )
      : h('p', { class: 'muted' }, t('No persistent bitmaps.'));
    const section = (title: string, content: HTMLElement, open = true): HTMLElement =>
      h('vscode-collapsible', { title, open, class: 'section' }, h('div', { class: 'section-body' }, content));
    setChildren(
      this.el,
      ...warnings,
      this.chainEl,
      facts,
      section(t('Header fields'), fields),
      section(t('Feature bits'), features),
      section(t('Header extensions'), exts),
      section(t('Snapshots'), snaps),
      section(t('Bitmaps'), bitmaps, d.bitmaps.length > 0),
      h('p', { class: 'muted timing' }, t('Overview ready in {0} ms (image opened and parsed in {1} ms)', Math.round(performance.now()), d.elapsedMs)),
    );
  }
}
