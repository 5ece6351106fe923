/**
 * The hex view's toolbar and side panel, wired to the view: what each control does to the layout (hex-fit.ts),
 * the saved state and the cursor. The view (hex-view.ts) places them and draws into them.
 */
import type { OffsetMode } from './row-layout';
import { HexToolbar } from './toolbar';
import { SidePanel } from './side-panel';
import type { HexFit } from './hex-fit';
import type { HexState } from './view-state';

export interface PanelTarget {
  readonly state: HexState;
  readonly fit: HexFit;
  goToText(text: string): void;
  goTo(offset: number): void;
  /** Where partition `index` of the table starts, if there is one. */
  partitionStart(index: number): number | undefined;
  focusGrid(): void;
  copy(as: 'hex' | 'text'): void;
  applyInspector(): void;
  renderInspector(): void;
  saveState(): void;
  redraw(): void;
}

export function makePanels(v: PanelTarget): { toolbar: HexToolbar; side: SidePanel } {
  const { state, fit } = v;
  const side = new SidePanel(
    state.littleEndian,
    (le) => {
      state.littleEndian = le;
      v.saveState();
      v.renderInspector();
    },
    (start) => {
      v.goTo(start);
      v.focusGrid();
    },
  );
  const toolbar = new HexToolbar(state, {
    goToText: (text) => v.goToText(text),
    leaveGoto: () => v.focusGrid(),
    goToPartition: (i) => {
      const start = v.partitionStart(i);
      if (start !== undefined) v.goTo(start);
    },
    setMode: (m: OffsetMode) => {
      state.mode = m;
      fit.refit();
    },
    setBytesPerRow: (n) => {
      state.bytesPerRow = n;
      fit.setRowWidth(n === 'auto' ? fit.autoRowWidth() : n);
    },
    setGroup: (n) => {
      state.group = n;
      fit.refit();
    },
    changed: () => {
      v.saveState();
      v.redraw();
    },
    copy: (as) => v.copy(as),
    toggleInspector: () => {
      state.inspector = side.el.hidden;
      v.applyInspector();
      v.saveState();
    },
  });
  return { toolbar, side };
}
