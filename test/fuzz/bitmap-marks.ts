/**
 * After the write stage on a clean image: each persistent bitmap that was enabled before (auto, not in use) and is
 * listed so after the reopen must have every written byte in a dirty range (write/bitmap-tracking.ts).
 */
import { dirtyRanges } from '../../src/qcow2/read/bitmap-ranges';
import type { Qcow2Dev } from '../../src/qcow2/qcow2-dev';
import { FuzzFinding } from './finding';

const MAX_TABLE_ENTRIES = 4096;

export async function assertWritesMarked(dev: Qcow2Dev, enabledBefore: string[], writes: Array<{ at: number; data: Uint8Array }>): Promise<void> {
  const src = { io: dev.io, clusterSize: dev.info.clusterSize, virtualSize: dev.virtualSize, fileSize: dev.fileSize };
  for (const bm of dev.bitmaps) {
    if (!enabledBefore.includes(bm.name) || bm.tableSize > MAX_TABLE_ENTRIES) continue;
    if (bm.flagNames.join() !== 'auto') throw new FuzzFinding(`enabled bitmap '${bm.name}' has flags [${bm.flagNames.join(', ')}] after writes and a close`);
    const ranges: Array<{ start: number; length: number }> = [];
    for await (const r of dirtyRanges(src, bm)) ranges.push(r);
    for (const w of writes) {
      const covered = ranges.some((r) => r.start <= w.at && w.at + w.data.length <= r.start + r.length);
      if (!covered) throw new FuzzFinding(`write of ${w.data.length} bytes at ${w.at} is not marked in enabled bitmap '${bm.name}'`);
    }
  }
}
