/**
 * The hex view's entry point for the editor shell (webview/main.ts mounts it in the "Hex" tab):
 *   const hex = mountHexView(container, host); … hex.goTo(offset);
 * The module-level goTo() reaches the most recently mounted view (for the map's "open in hex view").
 */
import type { HexHost } from '../../src/shared/protocol';
import type { PartitionTable } from '../../src/shared/partitions';
import { scanPartitions } from '../../src/shared/partitions';
import { HexView, type HexTimings } from './hex-view';
import { HostLink } from './host-link';

export { REVEAL_FILE_EVENT } from './owner-lookup';

export interface HexViewHandle {
  goTo(offset: number): void;
  focus(): void;
  /** Puts the keyboard in the go-to box, its text selected (Ctrl+G). */
  focusGoto(): void;
  /** Partition table of the guest disk, once scanned (the map draws its boundaries). */
  onPartitions(f: (t: PartitionTable) => void): void;
  readonly timings: HexTimings;
  resetTimings(): void;
  dispose(): void;
}

let current: HexView | undefined;
const pendingListeners: Array<(t: PartitionTable) => void> = [];
let lastTable: PartitionTable | undefined;

function publish(table: PartitionTable): void {
  lastTable = table;
  for (const f of pendingListeners) f(table);
}

export function mountHexView(container: HTMLElement, host: HexHost): HexViewHandle {
  current?.dispose();
  const view = new HexView(container, host);
  current = view;
  view.onPartitions(publish);
  // Expose for the UI test and the bench (read-only numbers, no data from the image).
  (globalThis as { __hexView?: HexViewHandle }).__hexView = handle(view);
  return handle(view);
}

function handle(view: HexView): HexViewHandle {
  return {
    goTo: (o) => view.goTo(o),
    focus: () => view.focus(),
    focusGoto: () => view.focusGoto(),
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

/** Subscribes to the guest partition table (now, if known, and after every rescan). */
export function onPartitions(f: (t: PartitionTable) => void): void {
  pendingListeners.push(f);
  if (lastTable) f(lastTable);
}

/**
 * Reads the guest partition table before the hex view is shown (for the map's boundaries): a few page reads
 * over the host link, then the link is closed. Failures are silent: the hex view reports them when shown.
 */
export function scanPartitionsEarly(host: HexHost): void {
  if (current || host.virtualSize === 0) return;
  const link = new HostLink(host, () => undefined);
  const read = async (offset: number, length: number) => (await link.read(offset, length)).data;
  void scanPartitions(read, host.virtualSize, host.settings.sectorSize || 512)
    .then((t) => {
      if (!current) publish(t);
    })
    .catch(() => undefined)
    .finally(() => link.dispose());
}
