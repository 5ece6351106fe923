/**
 * The Hex tab. It mounts the guest-disk hex view (webview/hex, a separate piece of work) when the build has it;
 * until then it shows a read-only preview of the bytes at the chosen offset.
 */
import type { HostMessage } from '../../src/shared/protocol';
import { hexDumpLines, hex } from '../../src/shared/format';
import { base64ToBytes, h, setChildren } from '../dom';
import { post, requestId } from '../host';
import { t } from '../l10n';
import type { View } from '../main';

const PREVIEW_BYTES = 512;

export class HexSlot implements View {
  readonly id = 'hex' as const;
  readonly el = h('section', { class: 'view hex', 'aria-label': 'Hex' });
  private offset = 0;
  private req = 0;
  private vsize = 0;
  private readonly pre = h('pre', { class: 'hexdump', tabindex: 0 });
  private readonly label = h('span', { class: 'muted' });

  constructor(private readonly ctx: { sectorSize: number }) {
    const prev = h('vscode-button', { secondary: true, onclick: () => this.goTo(Math.max(0, this.offset - PREVIEW_BYTES)) }, t('Previous'));
    const next = h('vscode-button', { secondary: true, onclick: () => this.goTo(Math.min(this.vsize - 1, this.offset + PREVIEW_BYTES)) }, t('Next'));
    this.pre.addEventListener('keydown', (e) => {
      if (e.key === 'PageDown') this.goTo(Math.min(this.vsize - 1, this.offset + PREVIEW_BYTES));
      else if (e.key === 'PageUp') this.goTo(Math.max(0, this.offset - PREVIEW_BYTES));
      else return;
      e.preventDefault();
    });
    setChildren(this.el, h('div', { class: 'toolbar' }, prev, next, this.label), h('p', { class: 'muted small' }, t('Read-only preview of the guest disk.')), this.pre);
  }

  shown(): void {
    this.fetch();
  }

  goTo(offset: number): void {
    this.offset = Math.floor(offset / 16) * 16;
    this.fetch();
  }

  private fetch(): void {
    if (this.vsize === 0) return;
    this.req = requestId();
    const len = Math.min(PREVIEW_BYTES, this.vsize - this.offset);
    if (len <= 0) return;
    post({ type: 'requestBytes', requestId: this.req, offset: this.offset, length: len });
  }

  handle(msg: HostMessage): void {
    if (msg.type === 'overview') this.vsize = msg.data.virtualSize;
    if (msg.type === 'bytes' && msg.requestId === this.req) {
      const bytes = base64ToBytes(msg.data);
      this.pre.textContent = hexDumpLines(bytes, msg.offset).join('\n');
      this.label.textContent = t('{0} (LBA {1})', hex(msg.offset), Math.floor(msg.offset / this.ctx.sectorSize));
    }
  }
}
