/** The partition table as last scanned from the guest disk, and who wants to hear about it (the map, the views). */
import { scanPartitions, type PartitionTable } from '../../src/shared/partitions';

export class PartitionFeed {
  table?: PartitionTable;
  private readonly listeners: Array<(t: PartitionTable) => void> = [];

  constructor(
    /** A fresh table: the view shows it first, then the listeners hear it. */
    private readonly onTable: (t: PartitionTable) => void,
    private readonly onError: (message: string) => void,
  ) {}

  /** Scans again (after a save, a refresh, a sector-size change). */
  async scan(read: (offset: number, length: number) => Promise<Uint8Array>, size: number, sectorSize: number): Promise<void> {
    try {
      const table = await scanPartitions(read, size, sectorSize);
      this.table = table;
      this.onTable(table);
      for (const f of this.listeners) f(table);
    } catch (err) {
      this.onError((err as Error).message);
    }
  }

  subscribe(f: (t: PartitionTable) => void): void {
    this.listeners.push(f);
    if (this.table) f(this.table);
  }
}
