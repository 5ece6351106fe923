/**
 * Runs the engine's integrity check (src/qcow2/check, qemu-img check semantics) for the editor and the
 * "Check Image Integrity" command, and converts its result to the webview's report shape.
 */
import { checkImage, openForCheck, verifyBackingChain, type CheckResult } from '../qcow2';
import type { IntegrityFinding, IntegrityReport } from '../shared/protocol';

/** Findings sent to the webview; the counts stay exact beyond it. */
export const MAX_REPORTED_FINDINGS = 2000;

export function toReport(r: CheckResult, elapsedMs: number): IntegrityReport {
  const s = r.summary;
  const findings: IntegrityFinding[] = r.findings.slice(0, MAX_REPORTED_FINDINGS).map((f) => {
    const out: IntegrityFinding = {
      severity: f.severity === 'error' ? 'warning' : f.severity,
      message: f.snapshot ? `${f.message} (snapshot ${f.snapshot})` : f.message,
    };
    if (f.hostOffset !== undefined) out.hostOffset = f.hostOffset;
    if (f.virtualOffsets && f.virtualOffsets.length > 0) out.guestOffset = f.virtualOffsets[0];
    return out;
  });
  const report: IntegrityReport = {
    available: true,
    corruptions: s.corruptions,
    leaks: s.leaks,
    checkErrors: s.checkErrors,
    imageEndOffset: s.imageEndOffset,
    allocatedClusters: s.allocatedClusters,
    totalClusters: s.totalClusters,
    fragmentedClusters: s.fragmentedClusters,
    compressedClusters: s.compressedClusters,
    findings,
    truncated: r.findingsDropped + Math.max(0, r.findings.length - MAX_REPORTED_FINDINGS),
    elapsedMs,
  };
  if (s.leaksFixed || s.corruptionsFixed) report.repaired = { leaksFixed: s.leaksFixed, corruptionsFixed: s.corruptionsFixed };
  return report;
}

export interface CheckRequest {
  path: string;
  repair?: 'leaks' | 'all';
  allowPath?: (p: string) => boolean;
  isCancelled?: () => boolean;
  onProgress?: (fraction: number) => void;
}

const PHASE_WEIGHT = { refcounts: [0, 0.3], tables: [0.3, 0.6], compare: [0.9, 0.1], repair: [0.9, 0.1] } as const;

/** Runs the engine's check on the file opened on its own, mapping its phases onto one progress fraction. */
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

/** Checks an image file (opened on its own, read-only unless repairing). */
export async function checkImageFile(req: CheckRequest): Promise<IntegrityReport> {
  const t0 = Date.now();
  // The image's own metadata is always checked; a broken chain (qemu-img could not open the image) goes above it.
  const broken = await verifyBackingChain(req.path, req.allowPath);
  const result = await runCheck(req);
  const report = toReport(result, Date.now() - t0);
  if (broken) report.chainError = { kind: broken.kind, layer: broken.layer, message: broken.message };
  return report;
}

/** One-line summary for notifications and the log. */
export type LogLevel = 'error' | 'warn' | 'info';

/** How loud a check result is: corruptions are errors (data at risk), leaks and check errors warnings. */
export function reportLevel(r: Pick<IntegrityReport, 'available' | 'corruptions' | 'leaks' | 'checkErrors' | 'chainError'>): LogLevel {
  if (r.chainError || (r.available && r.corruptions)) return 'error'; // a broken chain leaves the disk unreadable
  return !r.available || r.leaks || r.checkErrors ? 'warn' : 'info';
}

export function findingLevel(severity: IntegrityFinding['severity']): LogLevel {
  return severity === 'corruption' ? 'error' : severity === 'leak' || severity === 'warning' ? 'warn' : 'info';
}

export function summaryLine(file: string, r: IntegrityReport): string {
  if (!r.available) return `${file}: integrity check not available`;
  const parts = [`${r.corruptions} corruption(s)`, `${r.leaks} leaked cluster(s)`];
  if (r.checkErrors) parts.push(`${r.checkErrors} check error(s)`);
  if (r.chainError) parts.unshift('broken backing chain');
  const verdict = r.corruptions || r.leaks || r.checkErrors || r.chainError ? 'problems found' : 'no errors';
  return `${file}: ${verdict}: ${parts.join(', ')}`;
}
