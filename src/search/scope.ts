/** Turns a scope the user named (a byte range, a partition number) into a guest byte range. */
import { Qcow2Error } from '../qcow2';
import { scanPartitions, type Partition } from '../shared/partitions';
import type { SearchTarget } from './range-scan';

/** The byte range of partition `number` (as Linux numbers them: sda1…, logical from 5) from the MBR or GPT. */
export async function partitionRange(target: SearchTarget, number: number, file?: string): Promise<Partition> {
  const table = await scanPartitions(async (offset, length) => {
    const buf = new Uint8Array(Math.max(0, Math.min(length, target.virtualSize - offset)));
    await target.readAt(buf, offset);
    return buf;
  }, target.virtualSize);
  const p = table.partitions.find((x) => x.number === number && !x.extended);
  if (!p) {
    const have = table.partitions.filter((x) => !x.extended).map((x) => x.number);
    throw new Qcow2Error(
      'invalid-argument',
      `no partition ${number} (${table.scheme === 'none' ? 'the disk has no partition table' : `partitions: ${have.join(', ') || 'none'}`})`,
      file,
    );
  }
  if (p.end > target.virtualSize || p.start >= p.end) throw new Qcow2Error('invalid-argument', `partition ${number} lies outside the disk`, file);
  return p;
}
