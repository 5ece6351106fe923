/** Cluster usage (the Usage tab): the engine's per-category counts for an image opened on its own, read-only. */
import { clusterUsage, openForCheck } from '../qcow2';
import type { UsageData } from '../shared/protocol';

export async function readClusterUsage(path: string): Promise<Omit<UsageData, 'elapsedMs' | 'available'>> {
  const dev = await openForCheck(path, true);
  try {
    const u = await clusterUsage(dev);
    return {
      fileSize: u.fileSize,
      clusterSize: u.clusterSize,
      categories: u.categories.filter((c) => c.clusters > 0).map((c) => ({ category: c.label, bytes: c.bytes, clusters: c.clusters })),
    };
  } finally {
    await dev.close();
  }
}
