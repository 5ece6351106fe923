/**
 * What every tab of the editor is, and what it is given. Views get a ViewContext from the shell (main.ts) instead
 * of importing from it, so the shell depends on the views and never the other way round.
 */
import type { HostMessage, ViewId } from '../../src/shared/protocol';
import type { PartitionTable } from '../../src/shared/partitions';

export interface View {
  readonly id: ViewId;
  readonly el: HTMLElement;
  /** Called when the tab becomes visible (views fetch lazily). */
  shown(): void;
  handle(msg: HostMessage): void;
}

/** The guest partition table, once the hex view's MBR/GPT scan has read it (and again after each reload). */
export interface PartitionsStore {
  /** Calls `f` with the current table if there is one, and with every later one. */
  subscribe(f: (table: PartitionTable) => void): void;
}

/** What a view may use of the shell. `editable` and `sectorSize` are live: the shell updates them on init/settings. */
export interface ViewContext {
  readonly editable: boolean;
  readonly sectorSize: number;
  /** Switch to the Hex tab and show this guest offset. */
  goHex(offset: number): void;
  readonly partitions: PartitionsStore;
  /** Guest offsets of the hex view's "Find all" hits (the map marks them). */
  readonly findHits: { subscribe(f: (offsets: readonly number[]) => void): void };
}
