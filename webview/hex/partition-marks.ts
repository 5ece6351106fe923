/** Partition start and end marks for the hex rows: built once per partition table, looked up per row by binary search. */
import type { PartitionTable } from '../../src/shared/partitions';

export interface PartitionMark {
  offset: number;
  label: string;
}

/** The marks of a table's usable partitions (not extended containers, not damaged entries), sorted by offset. */
export function partitionMarks(table: PartitionTable): PartitionMark[] {
  const out: PartitionMark[] = [];
  for (const p of table.partitions) {
    if (p.extended || p.problem) continue;
    const label = p.name ? `${p.number} ${p.name}` : `${p.number}`;
    out.push({ offset: p.start, label: `▶ p${label} start` }, { offset: p.end, label: `◀ p${p.number} end` });
  }
  return out.sort((a, b) => a.offset - b.offset);
}

/** The marks in [start, end) of sorted `marks`. */
export function marksIn(marks: readonly PartitionMark[], start: number, end: number): PartitionMark[] {
  let lo = 0;
  let hi = marks.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (marks[mid].offset < start) lo = mid + 1;
    else hi = mid;
  }
  const out = [];
  for (let i = lo; i < marks.length && marks[i].offset < end; i++) out.push(marks[i]);
  return out;
}
