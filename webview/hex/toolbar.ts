/**
 * The hex view's toolbar: the go-to box, the partition picker, offset/row/group choices, copy, the inspector toggle,
 * the status line, and the live region screen readers hear. It holds no view state: every choice is a callback.
 */
import type { PartitionTable } from '../../src/shared/partitions';
import { t } from '../l10n';
import { partitionCells } from '../partition-display';
import { el } from './dom';
import { BYTES_PER_ROW_CHOICES, GROUP_CHOICES, type OffsetMode } from './row-layout';

export interface ToolbarChoices {
  mode: OffsetMode;
  bytesPerRow: number | 'auto';
  group: number;
}

export interface ToolbarActions {
  goToText(text: string): void;
  /** Escape in the go-to box: back to the grid. */
  leaveGoto(): void;
  goToPartition(index: number): void;
  setMode(mode: OffsetMode): void;
  setBytesPerRow(n: number | 'auto'): void;
  setGroup(n: number): void;
  /** After any choice: save the state and redraw. */
  changed(): void;
  copy(as: 'hex' | 'text'): void;
  toggleInspector(): void;
}

export class HexToolbar {
  readonly el = el('div', 'hx-toolbar');
  readonly live = el('span', 'hx-live');
  private readonly gotoInput = el('input', 'hx-goto');
  private readonly partSelect = el('select');
  private readonly status = el('span', 'hx-status');
  private readonly inspectorToggle = el('button', 'hx-ins-toggle');
  private lastAnnounced = '';

  constructor(
    choices: ToolbarChoices,
    private readonly act: ToolbarActions,
  ) {
    this.gotoInput.placeholder = t('offset, 0x…, 4K, lba 2048');
    this.gotoInput.setAttribute('aria-label', t('Go to offset or LBA (Ctrl+G)'));
    this.gotoInput.addEventListener('keydown', (e) => {
      // Keys we handle stay here; others reach VS Code's keybindings (Ctrl+S saves from the box too).
      if (e.key === 'Enter') act.goToText(this.gotoInput.value);
      else if (e.key === 'Escape') act.leaveGoto();
      else return;
      e.stopPropagation();
    });
    const go = el('button', undefined, t('Go'));
    go.addEventListener('click', () => act.goToText(this.gotoInput.value));
    this.partSelect.setAttribute('aria-label', t('Go to partition'));
    this.partSelect.addEventListener('change', () => {
      const i = this.partSelect.value;
      this.partSelect.value = '';
      if (i !== '') act.goToPartition(Number(i));
    });
    const mode = this.select(
      t('Offsets'),
      [
        ['hex', t('hex')],
        ['dec', t('decimal')],
        ['lba', t('LBA')],
      ],
      choices.mode,
      (v) => act.setMode(v as OffsetMode),
    );
    const bpr = this.select(
      t('Bytes/row'),
      [['auto', t('auto')], ...BYTES_PER_ROW_CHOICES.map((n): [string, string] => [String(n), String(n)])],
      String(choices.bytesPerRow),
      (v) => act.setBytesPerRow(v === 'auto' ? 'auto' : Number(v)),
    );
    const grp = this.select(
      t('Group'),
      GROUP_CHOICES.map((n) => [String(n), String(n)]),
      String(choices.group),
      (v) => act.setGroup(Number(v)),
    );
    this.inspectorToggle.textContent = t('Inspector');
    this.inspectorToggle.title = t('Show or hide the data inspector and partition list');
    this.inspectorToggle.setAttribute('aria-controls', 'hx-side');
    this.inspectorToggle.addEventListener('click', () => act.toggleInspector());
    const copyHex = el('button', undefined, t('Copy hex'));
    copyHex.addEventListener('click', () => act.copy('hex'));
    const copyText = el('button', undefined, t('Copy text'));
    copyText.addEventListener('click', () => act.copy('text'));
    this.status.setAttribute('role', 'status');
    this.live.id = 'hx-live';
    this.live.setAttribute('aria-live', 'polite');
    this.el.append(this.gotoInput, go, this.partSelect, mode, bpr, grp, copyHex, copyText, this.inspectorToggle, this.status, this.live);
  }

  private select(label: string, options: Array<[string, string]>, value: string, onChange: (v: string) => void): HTMLElement {
    const wrap = el('label', undefined, label + ' ');
    const s = el('select');
    for (const [v, text] of options) {
      const o = el('option', undefined, text);
      o.value = v;
      s.append(o);
    }
    s.value = value;
    s.addEventListener('change', () => {
      onChange(s.value);
      this.act.changed();
    });
    wrap.append(s);
    return wrap;
  }

  get statusText(): string {
    return this.status.textContent ?? '';
  }

  setStatus(text: string, error = false): void {
    this.status.textContent = text;
    this.status.classList.toggle('hx-err', error);
  }

  /** Tells screen readers (once per change) what is at the cursor. */
  announce(text: string): void {
    if (text !== this.lastAnnounced) this.live.textContent = this.lastAnnounced = text;
  }

  setInspectorShown(shown: boolean): void {
    this.inspectorToggle.setAttribute('aria-expanded', String(shown));
    this.inspectorToggle.classList.toggle('hx-on', shown);
  }

  focusGoto(): void {
    this.gotoInput.focus();
    this.gotoInput.select();
  }

  /** The partition picker's entries, counted in the go-to box's LBA unit. */
  setPartitions(table: PartitionTable, sectorSize: number): void {
    this.partSelect.textContent = '';
    const first = el('option', undefined, table.partitions.length ? t('Go to partition…') : t('No partitions'));
    first.value = '';
    this.partSelect.append(first);
    table.partitions.forEach((p, idx) => {
      const label = p.name ? `${p.number} ${p.name}` : `${p.number}`;
      const o = el('option', undefined, `${label} (LBA ${partitionCells(p, table.sectorSize, sectorSize).firstLba})`);
      o.value = String(idx);
      this.partSelect.append(o);
    });
  }
}
