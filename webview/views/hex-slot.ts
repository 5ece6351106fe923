/**
 * The Hex tab: mounts the guest-disk hex view (webview/hex) once the disk size is known and the tab is first
 * shown, and forwards "open in hex view at offset" requests from the map, the integrity findings and the
 * "Go to Offset…" command.
 */
import type { HexHost, HostMessage } from '../../src/shared/protocol';
import { mountHexView, onPartitions, scanPartitionsEarly, type HexViewHandle } from '../hex/index';
import type { PartitionTable } from '../../src/shared/partitions';
import { h } from '../dom';
import { post, onMessage, getState, updateState } from '../host';
import { t } from '../l10n';
import type { View, ViewContext } from './view';

export class HexSlot implements View {
  readonly id = 'hex' as const;
  readonly el = h('section', { class: 'view hex', 'aria-label': 'Hex' }, h('p', { class: 'muted' }, t('Opening the hex view…')));
  private vsize = 0;
  private handleRef?: HexViewHandle;
  private pendingOffset?: number;
  private visible = false;
  private writeBlocked?: string;
  private gotoAskedAt = -Infinity;

  constructor(private readonly ctx: ViewContext) {}

  shown(): void {
    this.visible = true;
    this.mount();
    // A tab switch that Ctrl+G asked for ends in the go-to box, however late the tab list reports it.
    if (performance.now() - this.gotoAskedAt < 1000) this.handleRef?.focusGoto();
    else this.handleRef?.focus();
  }

  /** Ctrl+G: the go-to box (mounts the view first when the tab was never shown). */
  focusGoto(): void {
    this.gotoAskedAt = performance.now();
    this.mount();
    this.handleRef?.focusGoto();
  }

  goTo(offset: number): void {
    if (this.handleRef) this.handleRef.goTo(offset);
    else this.pendingOffset = offset;
  }

  /** Partition tables found by the hex view (the map draws their boundaries). */
  static onPartitions(f: (t: PartitionTable) => void): void {
    onPartitions(f);
  }

  private mount(): void {
    if (this.handleRef || this.vsize === 0 || !this.visible) return;
    while (this.el.firstChild) this.el.removeChild(this.el.firstChild);
    const host: HexHost = {
      post,
      onMessage,
      editable: this.ctx.editable,
      writeBlocked: this.writeBlocked,
      settings: { sectorSize: this.ctx.sectorSize },
      virtualSize: this.vsize,
      getState: () => getState().hex,
      setState: (s) => updateState({ hex: s }),
    };
    this.handleRef = mountHexView(this.el, host);
    if (this.pendingOffset !== undefined) {
      this.handleRef.goTo(this.pendingOffset);
      this.pendingOffset = undefined;
    }
  }

  handle(msg: HostMessage): void {
    if (msg.type === 'hexWritable') this.writeBlocked = msg.blocked;
    // The file changed (reload, save, revert): the partition table is read again even before the Hex tab is shown
    // (the mounted view rescans itself), so the map's boundaries and the Partitions panel follow the file.
    if (msg.type === 'refresh' && !this.handleRef && this.vsize > 0) this.scanEarly();
    if (msg.type === 'overview' && msg.data.virtualSize !== this.vsize) {
      this.vsize = msg.data.virtualSize;
      this.handleRef?.dispose();
      this.handleRef = undefined;
      this.mount();
      // The map draws partition boundaries even before the Hex tab is opened (H6).
      if (!this.handleRef) this.scanEarly();
    }
  }

  private scanEarly(): void {
    scanPartitionsEarly({
      post,
      onMessage,
      editable: false,
      settings: { sectorSize: this.ctx.sectorSize },
      virtualSize: this.vsize,
      getState: () => undefined,
      setState: () => undefined,
    });
  }
}
