/**
 * The engine features the editor uses that land separately (check, cluster usage, create, write). Each
 * returns undefined while it is missing so the UI can say "not available yet" instead of failing.
 */
import { createImage } from '../qcow2/create';
import type { CheckResult } from '../qcow2/check/findings';
import type { CheckRequest } from './integrity';
import type { UsageData } from '../shared/protocol';

export function engineCheck(): ((req: CheckRequest) => Promise<CheckResult>) | undefined {
  return undefined;
}

export function engineUsage(): ((path: string, allowPath?: (p: string) => boolean) => Promise<Omit<UsageData, 'elapsedMs' | 'available'>>) | undefined {
  return undefined;
}

export function engineCreate():
  | ((path: string, opts: { size?: number; clusterSize?: number; backingFile?: string; backingFormat?: string }) => Promise<unknown>)
  | undefined {
  return createImage;
}
