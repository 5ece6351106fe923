/**
 * The hex view's entry point for the editor shell (webview/main.ts mounts it in the "Hex" tab):
 *   const hex = mountHexView(container, host); … hex.goTo(offset);
 * The module-level goTo() reaches the most recently mounted view (for the map's "open in hex view").
 */
import type { HexHost } from '../../src/shared/protocol';
import type { PartitionTable } from '../../src/shared/partitions';
import { HexView, type HexTimings } from './hex-view';

export interface HexViewHandle {
  goTo(offset: number): void;
  focus(): void;
  /** Partition table of the guest disk, once scanned (the map draws its boundaries). */
  onPartitions(f: (t: PartitionTable) => void): void;
  readonly timings: HexTimings;
  resetTimings(): void;
  dispose(): void;
}

let current: HexView | undefined;
const pendingListeners: Array<(t: PartitionTable) => void> = [];

export function mountHexView(container: HTMLElement, host: HexHost): HexViewHandle {
  current?.dispose();
  const view = new HexView(container, host);
  current = view;
  for (const f of pendingListeners) view.onPartitions(f);
  // Expose for the UI test and the bench (read-only numbers, no data from the image).
  (globalThis as { __hexView?: HexViewHandle }).__hexView = handle(view);
  return handle(view);
}

function handle(view: HexView): HexViewHandle {
  return {
    goTo: (o) => view.goTo(o),
    focus: () => view.focus(),
    onPartitions: (f) => view.onPartitions(f),
    get timings() {
      return view.timings;
    },
    resetTimings: () => view.resetTimings(),
    dispose: () => {
      view.dispose();
      if (current === view) current = undefined;
    },
  };
}

/** Moves the mounted hex view (if any) to `offset`. */
export function goTo(offset: number): void {
  current?.goTo(offset);
}

/** Subscribes to the guest partition table (now, if scanned, and after every rescan). */
export function onPartitions(f: (t: PartitionTable) => void): void {
  pendingListeners.push(f);
  current?.onPartitions(f);
}
