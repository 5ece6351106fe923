/** Path containment for the untrusted-workspace policy (no vscode import, so it is unit-tested). */
import { realpathSync } from 'node:fs';
import * as nodePath from 'node:path';

/** True when `file` is `folder` or lies below it (after resolving `..`). */
export function isInside(folder: string, file: string): boolean {
  const rel = nodePath.relative(nodePath.resolve(folder), nodePath.resolve(file));
  return rel === '' || (!rel.startsWith('..') && !nodePath.isAbsolute(rel));
}

/**
 * Where `p` really is: symlinks resolved. For a path that does not exist (yet), its nearest existing ancestor is
 * resolved and the rest appended, so a missing file below a symlinked folder still counts as where the link points.
 */
export function realPath(p: string): string {
  const abs = nodePath.resolve(p);
  try {
    return realpathSync.native(abs);
  } catch {
    const parent = nodePath.dirname(abs);
    return parent === abs ? abs : nodePath.join(realPath(parent), nodePath.basename(abs));
  }
}

/**
 * True when `file` lies in one of `folders`, judged by where both really are: a symlink inside a folder that
 * points out of it is outside.
 */
export function isReallyInside(folders: readonly string[], file: string): boolean {
  const real = realPath(file);
  return folders.some((f) => isInside(realPath(f), real));
}
