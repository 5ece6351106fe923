/** Path containment for the untrusted-workspace policy (no vscode import, so it is unit-tested). */
import * as nodePath from 'node:path';

/** True when `file` is `folder` or lies below it (after resolving `..`). */
export function isInside(folder: string, file: string): boolean {
  const rel = nodePath.relative(nodePath.resolve(folder), nodePath.resolve(file));
  return rel === '' || (!rel.startsWith('..') && !nodePath.isAbsolute(rel));
}
