/** Cluster usage (the Usage tab): the engine's per-category counts for an image opened on its own, read-only. */
import { clusterUsage, openForCheck } from '../qcow2';
import type { UsageData } from '../shared/protocol';
import type { Qcow2Document } from './qcow2-document';

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

/** The Usage tab's numbers for a document, announced to its sessions. */
export async function loadUsage(doc: Qcow2Document): Promise<void> {
  const t0 = Date.now();
  const u = await readClusterUsage(doc.path);
  doc.lastUsage = { ...u, available: true, elapsedMs: Date.now() - t0 };
  doc.notify('usage');
}
