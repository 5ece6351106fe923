/**
 * What the hex view changes or hands out: replace-only typing (cursor-model.ts) sent to the host as edits, refused
 * with the reason when the image cannot be written (the banner says why); and copying the selection as hex or text.
 */
import type { HexHost } from '../../src/shared/protocol';
import { formatBytes } from '../../src/shared/format';
import { t } from '../l10n';
import type { CursorModel } from './cursor-model';
import { el } from './dom';
import type { HostLink } from './host-link';
import type { PageCache } from './page-cache';
import { copyAsHex, copyAsText } from './row-layout';

/** Most bytes one copy takes (the host's clipboard message is bounded too). */
export const MAX_COPY_BYTES = 1024 * 1024;

export interface EditParts {
  readonly host: HexHost;
  readonly root: HTMLElement;
  readonly cursor: CursorModel;
  readonly cache: PageCache;
  readonly link: HostLink;
  setStatus(text: string, error?: boolean): void;
  moveCursor(to: number, extend: boolean): void;
  redraw(): void;
}

export class HexEdits {
  /** Why edits are off (the image cannot be written now); hidden when they are on. */
  readonly banner = el('div', 'hx-banner');
  private writeBlocked?: string;

  constructor(private readonly p: EditParts) {
    this.banner.setAttribute('role', 'alert');
  }

  setWriteBlocked(reason: string | undefined): void {
    this.writeBlocked = reason;
    this.banner.hidden = !reason;
    this.banner.textContent = reason ? t('Edits are off: {0}.', reason) : '';
    this.p.root.dataset.writeBlocked = reason ? 'true' : 'false';
    if (reason) this.p.cursor.nibble = undefined;
  }

  /** Replace-only typing; refused with the reason when the image cannot be written. True when the key was used. */
  typeKey(key: string): boolean {
    const { host, cursor } = this.p;
    if (!host.editable || this.writeBlocked) {
      this.p.setStatus(this.writeBlocked ? t('Edits are off: {0}.', this.writeBlocked) : t('This editor is read-only'), true);
      return cursor.wouldEdit(key);
    }
    const r = cursor.type(key);
    if (r.kind === 'byte') this.commit(r.offset, r.byte);
    else if (r.kind === 'nibble') this.p.redraw();
    return r.kind !== 'ignored';
  }

  private commit(offset: number, byte: number): void {
    const bytes = Uint8Array.of(byte);
    this.p.cache.patch(offset, bytes);
    this.p.link.edit(offset, bytes, t('Edit byte at {0}', `0x${offset.toString(16)}`));
    this.p.moveCursor(offset + 1, false);
  }

  /** Copies the selection as hex rows (`bpr` bytes, grouped by `group`) or as text. */
  async copy(as: 'hex' | 'text', bpr: number, group: number): Promise<void> {
    const [lo, hi] = this.p.cursor.selection();
    const n = hi - lo + 1;
    if (n > MAX_COPY_BYTES) return this.p.setStatus(t('Selection of {0} is too large to copy (limit {1})', formatBytes(n), formatBytes(MAX_COPY_BYTES)), true);
    try {
      const bytes = await this.p.cache.read(lo, n);
      this.p.link.copy(as === 'hex' ? copyAsHex(bytes, lo, bpr, group) : copyAsText(bytes));
      this.p.setStatus(t('Copied {0} bytes as {1}', n, as));
    } catch (err) {
      this.p.setStatus((err as Error).message, true);
    }
  }
}
