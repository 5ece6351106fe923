/**
 * Adapters from the editor to engine features that live in their own modules (check, cluster usage, create),
 * so the views and commands depend on one small surface.
 */
import { createImage, checkImage, openForCheck, clusterUsage, type CheckResult } from '../qcow2';
import type { CheckRequest } from './integrity';
import type { UsageData } from '../shared/protocol';

const PHASE_WEIGHT = { refcounts: [0, 0.3], tables: [0.3, 0.6], compare: [0.9, 0.1], repair: [0.9, 0.1] } as const;

async function runCheck(req: CheckRequest): Promise<CheckResult> {
  const dev = await openForCheck(req.path, req.repair === undefined);
  const abort = new AbortController();
  try {
    const result = await checkImage(dev, {
      repair: req.repair,
      signal: abort.signal,
      onProgress: (p) => {
        if (req.isCancelled?.()) abort.abort();
        const [base, span] = PHASE_WEIGHT[p.phase];
        req.onProgress?.(base + span * (p.total > 0 ? Math.min(1, p.done / p.total) : 0));
      },
    });
    if (result.failure && !result.findings.some((f) => f.kind === 'check-error')) {
      result.findings.unshift({ kind: 'check-error', severity: 'error', message: `check failed: ${result.failure}`, qemuLine: result.failure });
    }
    return result;
  } finally {
    await dev.close();
  }
}

export function engineCheck(): ((req: CheckRequest) => Promise<CheckResult>) | undefined {
  return runCheck;
}

async function runUsage(path: string): Promise<Omit<UsageData, 'elapsedMs' | 'available'>> {
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

export function engineUsage(): ((path: string, allowPath?: (p: string) => boolean) => Promise<Omit<UsageData, 'elapsedMs' | 'available'>>) | undefined {
  return runUsage;
}

export function engineCreate():
  | ((path: string, opts: { size?: number; clusterSize?: number; backingFile?: string; backingFormat?: string }) => Promise<unknown>)
  | undefined {
  return createImage;
}
