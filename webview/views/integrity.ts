/** Integrity: the check summary, findings with clickable locations, rerun, and repair of leaks (editable only). */
import type { HostMessage, IntegrityFinding, IntegrityReport } from '../../src/shared/protocol';
import { decimal, formatBytes, hex } from '../../src/shared/format';
import { h, icon, setChildren } from '../dom';
import { post } from '../host';
import { t } from '../l10n';
import type { View, ViewContext } from './view';

export class IntegrityView implements View {
  readonly id = 'integrity' as const;
  readonly el = h('section', { class: 'view integrity', 'aria-label': 'Integrity' });
  private report?: IntegrityReport;
  private running = false;
  private requested = false;

  private readonly goHex: (offset: number) => void;

  constructor(private readonly ctx: ViewContext) {
    this.goHex = (offset) => ctx.goHex(offset);
    this.render();
  }

  shown(): void {
    if (!this.report && !this.running && !this.requested) {
      this.requested = true;
      post({ type: 'runCheck' });
    }
  }

  handle(msg: HostMessage): void {
    if (msg.type === 'integrity') {
      this.report = msg.report;
      this.render();
    } else if (msg.type === 'integrityRunning') {
      this.running = msg.running;
      this.render();
    } else if (msg.type === 'refresh') {
      this.requested = false;
    }
  }

  private render(): void {
    const rerun = h(
      'vscode-button',
      { id: 'run-check', onclick: () => post({ type: 'runCheck' }), disabled: this.running },
      icon('refresh'),
      ' ',
      t('Run check again'),
    );
    const r = this.report;
    const repair =
      this.ctx.editable && r && r.leaks > 0
        ? h(
            'vscode-button',
            { id: 'repair-leaks', secondary: true, onclick: () => post({ type: 'repairLeaks' }), disabled: this.running },
            icon('tools'),
            ' ',
            t('Repair leaks…'),
          )
        : null;
    const repairAll =
      this.ctx.editable && r && r.corruptions > 0
        ? h(
            'vscode-button',
            { id: 'repair-all', secondary: true, onclick: () => post({ type: 'repairAll' }), disabled: this.running },
            icon('tools'),
            ' ',
            t('Repair all…'),
          )
        : null;
    const toolbar = h(
      'div',
      { class: 'toolbar' },
      rerun,
      repair,
      repairAll,
      this.running ? h('span', { class: 'muted' }, h('vscode-progress-ring'), ' ', t('Checking…')) : null,
    );
    if (!r) {
      setChildren(this.el, toolbar, h('p', { class: 'muted' }, this.running ? t('Checking the image…') : t('The check has not run yet.')));
      return;
    }
    if (!r.available) {
      setChildren(this.el, toolbar, h('p', { class: 'message' }, icon('info'), ' ', r.findings[0]?.message ?? t('The integrity check is not available.')));
      return;
    }
    const clean = r.corruptions === 0 && r.leaks === 0 && r.checkErrors === 0;
    const verdict = clean
      ? h('div', { class: 'verdict ok', role: 'status' }, icon('pass'), ' ', t('No errors were found on the image.'))
      : h(
          'div',
          { class: 'verdict bad', role: 'alert' },
          icon('error'),
          ' ',
          t('{0} corruption(s), {1} leaked cluster(s), {2} check error(s)', r.corruptions, r.leaks, r.checkErrors),
        );
    const chainError = r.chainError
      ? h(
          'div',
          { class: 'verdict bad chain-error', id: 'chain-error', role: 'alert' },
          icon('error'),
          ' ',
          t('Broken backing chain: {0}', r.chainError.message),
          h('div', { class: 'muted small' }, t('The image cannot be opened as a whole; below is the check of its own metadata.')),
        )
      : null;
    const stats = h(
      'dl',
      { class: 'facts' },
      h('dt', null, t('Corruptions')),
      h('dd', { id: 'count-corruptions' }, h('vscode-badge', { variant: r.corruptions ? 'counter' : 'default' }, String(r.corruptions))),
      h('dt', null, t('Leaked clusters')),
      h('dd', { id: 'count-leaks' }, h('vscode-badge', { variant: r.leaks ? 'counter' : 'default' }, String(r.leaks))),
      h('dt', null, t('Check errors')),
      h('dd', null, String(r.checkErrors)),
      r.allocatedClusters !== undefined && r.totalClusters !== undefined
        ? [h('dt', null, t('Allocated clusters')), h('dd', null, `${decimal(r.allocatedClusters)} / ${decimal(r.totalClusters)}`)]
        : null,
      r.fragmentedClusters !== undefined ? [h('dt', null, t('Fragmented')), h('dd', null, decimal(r.fragmentedClusters))] : null,
      r.compressedClusters !== undefined ? [h('dt', null, t('Compressed')), h('dd', null, decimal(r.compressedClusters))] : null,
      r.imageEndOffset !== undefined
        ? [h('dt', null, t('Image end offset')), h('dd', null, `${hex(r.imageEndOffset)} (${formatBytes(r.imageEndOffset)})`)]
        : null,
      r.repaired
        ? [h('dt', null, t('Repaired')), h('dd', null, t('{0} leak(s), {1} corruption(s)', r.repaired.leaksFixed, r.repaired.corruptionsFixed))]
        : null,
      h('dt', null, t('Time')),
      h('dd', null, `${r.elapsedMs} ms`),
    ) as HTMLElement;
    const rows = r.findings.map((f) => this.findingRow(f));
    const list = rows.length
      ? h(
          'table',
          { class: 'grid findings' },
          h('thead', null, h('tr', null, ...[t('Severity'), t('Finding'), t('Location')].map((x) => h('th', { scope: 'col' }, x)))),
          h('tbody', null, ...rows),
        )
      : null;
    setChildren(
      this.el,
      toolbar,
      chainError,
      verdict,
      stats,
      list,
      r.truncated ? h('p', { class: 'muted' }, t('… and {0} more findings (see the QCOW2 Inspector output).', r.truncated)) : null,
    );
    this.applyFocus();
  }

  private focusIndex?: number;

  /** Scrolls to and highlights a finding (-1: the broken chain), e.g. from the Problems panel. */
  focusFinding(index: number): void {
    this.focusIndex = index;
    this.applyFocus();
  }

  private applyFocus(): void {
    if (this.focusIndex === undefined || !this.report) return;
    const el = (this.focusIndex < 0 ? this.el.querySelector('#chain-error') : this.el.querySelectorAll('tr.finding')[this.focusIndex]) as HTMLElement | null;
    if (!el) return;
    for (const old of this.el.querySelectorAll('.focused')) old.classList.remove('focused');
    el.classList.add('focused');
    el.tabIndex = 0;
    el.scrollIntoView({ block: 'center' });
    el.focus();
  }

  private findingRow(f: IntegrityFinding): HTMLElement {
    const sevIcon = f.severity === 'corruption' ? 'error' : f.severity === 'leak' ? 'warning' : 'info';
    const go = (): void => {
      if (f.guestOffset !== undefined) this.goHex(f.guestOffset);
      else if (f.hostOffset !== undefined) post({ type: 'copyText', text: hex(f.hostOffset) });
    };
    const where: (HTMLElement | string)[] = [];
    if (f.guestOffset !== undefined)
      where.push(h('a', { href: '#', class: 'link', title: t('Open the hex view at this guest offset') }, t('guest {0}', hex(f.guestOffset))));
    if (f.hostOffset !== undefined) where.push(h('span', { class: 'mono', title: t('Host file offset (click to copy)') }, t('host {0}', hex(f.hostOffset))));
    const clickable = where.length > 0;
    return h(
      'tr',
      {
        class: `finding finding-${f.severity}${clickable ? ' clickable' : ''}`,
        tabindex: clickable ? 0 : undefined,
        onclick: (e: Event) => (e.preventDefault(), go()),
        onkeydown: (e: Event) => (e as KeyboardEvent).key === 'Enter' && go(),
      },
      h('td', null, icon(sevIcon), ' ', t(f.severity)),
      h('td', null, f.message),
      h('td', { class: 'mono' }, ...where.flatMap((w, i) => (i ? [' · ', w] : [w]))),
    );
  }
}
