/**
 * The one-time owner index of a FAT volume: every file's and directory's cluster runs, walked from the root.
 * Directories already visited (by first cluster) are not walked again, so a directory that contains itself or an
 * ancestor cannot loop; a broken chain skips that file (noted in `skipped`) instead of failing the whole index.
 */
import { checkAbort, IntervalTable, joinPath } from '../reader-util';
import { GuestFsError } from '../types';
import { ATTR_DIR, type FatEntry } from './dir';
import type { Bpb } from './bpb';
import type { Chain } from './fat-table';

/** What the owner index needs of the file system (an interface, so this file does not import the reader back). */
export interface FatWalk {
  readonly bpb: Bpb;
  firstCluster(e: FatEntry): number;
  fileChain(e: FatEntry, path: string): Promise<Chain>;
  dirChain(first: number, path: string): Promise<Chain>;
  dirData(e: FatEntry | undefined, path: string): Promise<{ entries: FatEntry[] }>;
}

export interface FatOwnerIndex {
  /** Cluster runs -> owning path; `logical` is in clusters. */
  table: IntervalTable<{ kind: 'file' | 'dir'; path: string }>;
  skipped: number;
}

/** Bound on directories walked, far above any real volume's, so a crafted one cannot make the walk unbounded. */
const MAX_DIRS = 1_000_000;

export async function buildFatOwnerIndex(fs: FatWalk, signal?: AbortSignal): Promise<FatOwnerIndex> {
  const table: FatOwnerIndex['table'] = new IntervalTable();
  const index: FatOwnerIndex = { table, skipped: 0 };
  const seen = new Set<number>();
  const stack: { entry?: FatEntry; path: string }[] = [{ path: '/' }];
  if (fs.bpb.bits === 32) {
    const chain = await fs.dirChain(fs.bpb.rootCluster, '/');
    addChain(index, chain.starts, chain.lengths, 'dir', '/');
    seen.add(fs.bpb.rootCluster);
  }
  let dirs = 0;
  while (stack.length > 0) {
    checkAbort(signal);
    if (++dirs > MAX_DIRS) throw new GuestFsError('too-large', `more than ${MAX_DIRS} directories`);
    const { entry, path } = stack.pop()!;
    let entries: FatEntry[];
    try {
      entries = (await fs.dirData(entry, path)).entries;
    } catch {
      index.skipped++;
      continue;
    }
    for (const e of entries) {
      const childPath = joinPath(path, e.name);
      const first = fs.firstCluster(e);
      if (first === 0) continue;
      try {
        if (e.attr & ATTR_DIR) {
          if (seen.has(first)) continue;
          seen.add(first);
          const chain = await fs.dirChain(first, childPath);
          addChain(index, chain.starts, chain.lengths, 'dir', childPath);
          stack.push({ entry: e, path: childPath });
        } else {
          const chain = await fs.fileChain(e, childPath);
          addChain(index, chain.starts, chain.lengths, 'file', childPath);
        }
      } catch {
        index.skipped++;
      }
    }
  }
  return index;
}

function addChain(index: FatOwnerIndex, starts: number[], lengths: number[], kind: 'file' | 'dir', path: string): void {
  const owner = { kind, path };
  let logical = 0;
  for (let i = 0; i < starts.length; i++) {
    index.table.add(starts[i], lengths[i], owner, logical);
    logical += lengths[i];
  }
}
