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
import { FindBar } from './find-bar';

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
let currentFind: FindBar | undefined;
const findListeners: Array<(offsets: readonly number[]) => void> = [];
let lastFindHits: readonly number[] = [];
const pendingListeners: Array<(t: PartitionTable) => void> = [];
let lastTable: PartitionTable | undefined;

function publish(table: PartitionTable): void {
  lastTable = table;
  for (const f of pendingListeners) f(table);
}

export function mountHexView(container: HTMLElement, host: HexHost): HexViewHandle {
  current?.dispose();
  currentFind?.dispose();
  const view = new HexView(container, host);
  current = view;
  view.partitions.subscribe(publish);
  const find = (currentFind = attachFind(view, host));
  // Expose for the UI test and the bench (read-only numbers, no data from the image).
  (globalThis as { __hexView?: HexViewHandle }).__hexView = handle(view, find);
  return handle(view, find);
}

/** The Find widget over the view (Ctrl+F); it goes when the view does. */
function attachFind(view: HexView, host: HexHost): FindBar {
  const link = new HostLink(host, () => undefined);
  const find = new FindBar(
    {
      root: view.root,
      body: view.root.querySelector<HTMLElement>('.hx-body')!,
      virtualSize: host.virtualSize,
      cursor: () => view.cursorOffset,
      sectorSize: () => view.sectorBytes,
      partitions: () => view.partitions.table,
      volumes: () => link.volumes(),
      select: (offset, length) => view.selectRange(offset, length),
      redraw: () => view.redraw(),
      focusGrid: () => view.focus(),
    },
    host,
  );
  view.findMarks = (start, n) => find.marks(start, n);
  find.onHits = (offsets) => {
    lastFindHits = offsets;
    for (const f of findListeners) f(offsets);
  };
  view.partitions.subscribe((t) => find.setPartitions(t));
  find.onDispose = () => link.dispose();
  return find;
}

function handle(view: HexView, find: FindBar): HexViewHandle {
  return {
    goTo: (o) => view.goTo(o),
    focus: () => view.focus(),
    focusGoto: () => view.focusGoto(),
    onPartitions: (f) => view.partitions.subscribe(f),
    get timings() {
      return view.timings;
    },
    resetTimings: () => view.resetTimings(),
    dispose: () => {
      find.dispose();
      view.dispose();
      if (current === view) current = undefined;
    },
  };
}

/** Moves the mounted hex view (if any) to `offset`. */
export function goTo(offset: number): void {
  current?.goTo(offset);
}

/** Subscribes to the offsets of the hex view's "Find all" hits (now, and after every search; empty when dropped). */
export function onFindHits(f: (offsets: readonly number[]) => void): void {
  findListeners.push(f);
  if (lastFindHits.length) f(lastFindHits);
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
