/**
 * The hex view's side panel: the data inspector (values of the bytes at the cursor in the chosen byte order), the
 * partition list (click or Enter jumps to a partition), and the colour legend. Text from the image goes through
 * textContent only.
 */
import type { PartitionTable } from '../../src/shared/partitions';
import { KIND_LABELS, SOURCE_KINDS } from '../kinds';
import { t } from '../l10n';
import { partitionCells, unitNote } from '../partition-display';
import { el } from './dom';
import { inspectBytes } from './inspector';

export class SidePanel {
  readonly el = el('div', 'hx-side');
  private readonly inspector = el('tbody');
  private readonly partsBody = el('tbody');
  private readonly partsNote = el('div');
  private readonly lbaHead: HTMLElement;

  constructor(
    littleEndian: boolean,
    /** The byte order was changed. */
    onEndian: (littleEndian: boolean) => void,
    /** A partition row was chosen: go to its start. */
    private readonly onPartition: (start: number) => void,
  ) {
    this.el.id = 'hx-side';
    const endian = el('select');
    for (const [v, label] of [
      ['le', t('little-endian')],
      ['be', t('big-endian')],
    ]) {
      const o = el('option', undefined, label);
      o.value = v;
      endian.append(o);
    }
    endian.value = littleEndian ? 'le' : 'be';
    endian.setAttribute('aria-label', t('Byte order'));
    endian.addEventListener('change', () => onEndian(endian.value === 'le'));
    const insTable = el('table', 'hx-ins');
    insTable.append(this.inspector);
    const partsTable = el('table', 'hx-parts');
    const ph = el('thead');
    const hr = el('tr');
    for (const h of ['#', t('name / type'), t('LBA range'), t('size')]) hr.append(el('th', undefined, h));
    this.lbaHead = hr.children[2] as HTMLElement;
    ph.append(hr);
    partsTable.append(ph, this.partsBody);
    const legend = el('div', 'hx-legend');
    SOURCE_KINDS.forEach((k, i) => {
      const item = el('span');
      item.append(el('span', `hx-sw hx-sw${i}`), document.createTextNode(t(KIND_LABELS[k])));
      legend.append(item);
    });
    const edited = el('span');
    edited.append(el('span', 'hx-sw hx-sw-edit'), document.createTextNode(t('unsaved edit')));
    legend.append(edited);
    this.el.append(
      el('h3', undefined, t('Data inspector')),
      endian,
      insTable,
      el('h3', undefined, t('Partitions')),
      this.partsNote,
      partsTable,
      el('h3', undefined, t('Legend')),
      legend,
    );
  }

  /** The inspector's rows for the bytes at `cursor` (as many of the next 16 as are loaded), after the owner row. */
  showBytes(cursor: number, sectorSize: number, bytes: Uint8Array, littleEndian: boolean, ownerRow?: HTMLElement): void {
    this.inspector.textContent = '';
    const at = el('tr');
    at.append(el('td', undefined, 'offset'), el('td', 'hx-v', `0x${cursor.toString(16)} (LBA ${Math.floor(cursor / sectorSize)})`));
    this.inspector.append(at);
    if (ownerRow) this.inspector.append(ownerRow);
    for (const r of inspectBytes(bytes, littleEndian)) {
      const tr = el('tr');
      tr.append(el('td', undefined, r.label), el('td', 'hx-v', r.value));
      this.inspector.append(tr);
    }
  }

  showPartitionError(message: string): void {
    this.partsNote.textContent = t('Partition table not read: {0}', message);
  }

  /** The partition list, counted in `sectorSize`-byte LBAs (the go-to box's unit), and saying so when the table differs. */
  showPartitions(table: PartitionTable, sectorSize: number): void {
    this.partsBody.textContent = '';
    this.partsNote.textContent =
      table.scheme === 'none'
        ? t('No MBR or GPT partition table found.')
        : t('{0}, {1}-byte sectors', table.scheme.toUpperCase(), table.sectorSize) + (table.diskId ? t(', disk {0}', table.diskId) : '');
    this.lbaHead.textContent = t('LBA range ({0} B)', sectorSize);
    if (unitNote(table, sectorSize)) {
      this.partsNote.append(
        el(
          'div',
          'hx-sub',
          t(
            'The table uses {0}-byte LBAs; they are listed here in {1}-byte LBAs, the unit of "lba N" in the go-to box (qcow2Inspector.sectorSize).',
            table.sectorSize,
            sectorSize,
          ),
        ),
      );
    }
    for (const w of table.warnings) this.partsNote.append(el('div', 'hx-warn', w));
    for (const p of table.partitions) {
      const tr = el('tr');
      tr.tabIndex = 0;
      const cells = partitionCells(p, table.sectorSize, sectorSize);
      tr.title = `${p.typeName} (${p.type})\n${cells.native}${p.guid ? `\nGUID ${p.guid}` : ''}`;
      const nameCell = el('td');
      nameCell.append(document.createTextNode(p.name || p.typeName));
      if (p.name) nameCell.append(el('div', 'hx-sub', p.typeName));
      tr.append(el('td', undefined, String(p.number)), nameCell, el('td', 'hx-v', cells.range), el('td', cells.problem ? 'hx-warn' : undefined, cells.size));
      tr.addEventListener('click', () => this.onPartition(p.start));
      tr.addEventListener('keydown', (e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          e.preventDefault();
          this.onPartition(p.start);
        }
      });
      this.partsBody.append(tr);
    }
  }
}
