/**
 * How the partition list shows a partition (#20 point 9): one LBA unit per view. The list counts in the unit the
 * go-to box uses (`qcow2Inspector.sectorSize`), so a listed LBA typed as `lba N` lands on the partition; when the
 * table's own logical block size differs (GPT states it), the note says so and each row's tooltip gives the LBAs
 * as the table stores them. A broken entry shows its problem, never a negative size. Pure, unit-tested.
 */
import { formatBytes } from '../src/shared/format';
import type { Partition, PartitionTable } from '../src/shared/partitions';

export interface PartitionCells {
  /** "first–last" in the view's LBA unit. */
  range: string;
  /** Size, or the entry's problem. */
  size: string;
  problem?: string;
  /** The LBAs as the table stores them, with their unit (tooltip). */
  native: string;
  /** First LBA in the view's unit (the "go to partition" menu). */
  firstLba: string;
}

/** An LBA in `ss`-byte units: whole, or "N+B bytes" when the offset is not on a sector boundary of that size. */
export function lbaIn(offset: number, ss: number): string {
  const rest = offset % ss;
  return rest === 0 ? String(offset / ss) : `${Math.floor(offset / ss)}+${rest}B`;
}

export function partitionCells(p: Partition, tableSectorSize: number, viewSectorSize: number): PartitionCells {
  const native = `LBA ${p.firstLba}–${p.lastLba} (${tableSectorSize}-byte)`;
  if (p.problem)
    return { range: `${lbaIn(p.start, viewSectorSize)}–?`, size: `⚠ ${p.problem}`, problem: p.problem, native, firstLba: lbaIn(p.start, viewSectorSize) };
  const last = p.end - 1;
  return {
    range: `${lbaIn(p.start, viewSectorSize)}–${last % viewSectorSize === viewSectorSize - 1 ? String(Math.floor(last / viewSectorSize)) : lbaIn(last, viewSectorSize)}`,
    size: formatBytes(p.end - p.start),
    native,
    firstLba: lbaIn(p.start, viewSectorSize),
  };
}

/** Column header of the LBA range: it names the unit. */
export function lbaHeader(viewSectorSize: number): string {
  return `LBA range (${viewSectorSize} B)`;
}

/** A note when the table's block size is not the view's unit, or undefined. */
export function unitNote(table: PartitionTable, viewSectorSize: number): string | undefined {
  if (table.scheme === 'none' || table.sectorSize === viewSectorSize) return undefined;
  return `The table uses ${table.sectorSize}-byte LBAs; they are listed here in ${viewSectorSize}-byte LBAs, the unit of "lba N" in the go-to box (qcow2Inspector.sectorSize).`;
}
