/**
 * The data inspector's "owner" row: which guest file or file-system structure the byte at the cursor belongs to,
 * asked of the host (guestfs owner index) a moment after the cursor stops, so holding an arrow key sends one
 * request, not hundreds. Only the newest answer is shown; the host cancels the older lookups itself.
 */
import type { HexHost, HostMessage } from '../../src/shared/protocol';
import { t } from '../l10n';
import { Requester } from '../requests';
import { linkIds } from './host-link';

const DEBOUNCE_MS = 150;
/** The event "Show in Files" sends up the DOM, with { volume, path } as its detail. */
export const REVEAL_FILE_EVENT = 'q2i-reveal-file';

export class OwnerLookup {
  readonly row = document.createElement('tr');
  private readonly value = document.createElement('td');
  private timer?: ReturnType<typeof setTimeout>;
  /** Bumped by each lookup: only the newest answer is shown. */
  private generation = 0;
  private shownFor = -1;
  private readonly requests: Requester;
  private readonly unsubscribe: () => void;

  constructor(private readonly host: HexHost) {
    const label = document.createElement('td');
    label.textContent = t('owner');
    this.value.className = 'hx-v hx-owner';
    this.row.append(label, this.value);
    // The hex view's channel: the same id source as its page reads.
    this.requests = new Requester((m) => host.post(m), linkIds);
    this.unsubscribe = host.onMessage((m) => void this.requests.settle(m));
  }

  private show(m: Extract<HostMessage, { type: 'fsOwner' }>): void {
    this.value.textContent = m.text;
    this.value.title = m.volume ? `${m.volume}: ${m.text}` : m.text;
    this.value.dataset.offset = String(m.offset);
    if (m.file) this.value.append(' ', this.showInFiles(m.file));
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
      const gen = ++this.generation;
      this.requests
        .request((requestId) => ({ type: 'fsOwner', requestId, offset }), 'fsOwner')
        .then(
          (m) => gen === this.generation && this.show(m),
          (err: Error) => {
            if (gen !== this.generation) return;
            this.value.textContent = t('unknown');
            this.value.title = err.message;
          },
        );
    }, DEBOUNCE_MS);
    return this.row;
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.unsubscribe();
    this.requests.dispose('hex view closed');
  }
}
