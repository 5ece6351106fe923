/**
 * The data inspector's "owner" row: which guest file or file-system structure the byte at the cursor belongs to,
 * asked of the host (guestfs owner index) a moment after the cursor stops, so holding an arrow key sends one
 * request, not hundreds. Only the newest answer is shown; the host cancels the older lookups itself.
 */
import type { HexHost } from '../../src/shared/protocol';
import { t } from '../l10n';

const DEBOUNCE_MS = 150;
/** The event "Show in Files" sends up the DOM, with { volume, path } as its detail. */
export const REVEAL_FILE_EVENT = 'q2i-reveal-file';
/** Request ids of their own range, apart from the shell's and the hex view's page reads. */
let nextId = 0x60000000;

export class OwnerLookup {
  readonly row = document.createElement('tr');
  private readonly value = document.createElement('td');
  private timer?: ReturnType<typeof setTimeout>;
  private pending = -1;
  private shownFor = -1;
  private readonly unsubscribe: () => void;

  constructor(private readonly host: HexHost) {
    const label = document.createElement('td');
    label.textContent = t('owner');
    this.value.className = 'hx-v hx-owner';
    this.row.append(label, this.value);
    this.unsubscribe = host.onMessage((m) => {
      if (m.type === 'fsOwner' && m.requestId === this.pending) {
        this.value.textContent = m.text;
        this.value.title = m.volume ? `${m.volume}: ${m.text}` : m.text;
        this.value.dataset.offset = String(m.offset);
        if (m.file) this.value.append(' ', this.showInFiles(m.file));
      } else if (m.type === 'error' && m.requestId === this.pending) {
        this.value.textContent = t('unknown');
        this.value.title = m.message;
      }
    });
  }

  /**
   * A link to the owning file in the Files tab. The hex view knows nothing of the other tabs, so it says so with a
   * bubbling DOM event that the editor shell (webview/main.ts) turns into a tab switch.
   */
  private showInFiles(file: { volume: string; path: string }): HTMLElement {
    const b = document.createElement('button');
    b.className = 'hx-owner-link';
    b.textContent = t('Show in Files');
    b.title = t('Show {0} in the Files tab', file.path);
    b.addEventListener('click', () => b.dispatchEvent(new CustomEvent(REVEAL_FILE_EVENT, { bubbles: true, detail: file })));
    return b;
  }

  /** The row for the cursor at `offset`; looked up again only when the offset changed. */
  update(offset: number): HTMLTableRowElement {
    if (offset === this.shownFor) return this.row;
    this.shownFor = offset;
    this.value.textContent = '…';
    this.value.title = '';
    delete this.value.dataset.offset;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.pending = nextId++;
      this.host.post({ type: 'fsOwner', requestId: this.pending, offset });
    }, DEBOUNCE_MS);
    return this.row;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.unsubscribe();
  }
}
