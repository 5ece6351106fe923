/** What the hex view does with the host's pushes: edits applied or refused, saves, reloads, write blocks, settings. */
import type { HostMessage } from '../../src/shared/protocol';
import { t } from '../l10n';

export interface HostMessageTarget {
  statusText(): string;
  setStatus(text: string, error?: boolean): void;
  /** Drops the cached pages (the bytes changed). */
  invalidate(): void;
  redraw(): void;
  rescanPartitions(): void;
  setWriteBlocked(reason: string | undefined): void;
  sectorSize(): number;
  setSectorSize(n: number): void;
  goTo(offset: number): void;
}

export function applyHostMessage(m: HostMessage, v: HostMessageTarget): void {
  switch (m.type) {
    case 'hexEdited':
      // "Saved" would lie once there are unsaved edits again.
      if (m.dirty && v.statusText() === t('Saved')) v.setStatus('');
      v.invalidate();
      v.redraw();
      break;
    case 'hexSaved':
    case 'refresh':
      v.invalidate();
      v.redraw();
      v.rescanPartitions();
      if (m.type === 'hexSaved') v.setStatus(t('Saved'));
      break;
    case 'hexWritable':
      v.setWriteBlocked(m.blocked);
      break;
    case 'settings':
      if (m.settings.sectorSize && m.settings.sectorSize !== v.sectorSize()) {
        v.setSectorSize(m.settings.sectorSize);
        v.rescanPartitions();
      }
      break;
    case 'showView':
      if (m.view === 'hex' && m.offset !== undefined) v.goTo(m.offset);
      break;
    case 'error':
      if (m.requestId === undefined) {
        // An edit the host refused: show it and drop the optimistic bytes.
        v.setStatus(m.message, true);
        v.invalidate();
        v.redraw();
      }
      break;
  }
}
