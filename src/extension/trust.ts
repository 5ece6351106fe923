/** Workspace trust: in an untrusted workspace nothing is written and no file outside the workspace is opened. */
import * as vscode from 'vscode';
import { isInside, isReallyInside } from './paths';

export { isInside };

/**
 * The allowPath callback for openImage: undefined (everything allowed) when the workspace is trusted. Paths are
 * compared after resolving symlinks, so a link in the workspace to a file elsewhere does not let that file in.
 */
export function allowPathForTrust(): ((absPath: string) => boolean) | undefined {
  if (vscode.workspace.isTrusted) return undefined;
  const folders = (vscode.workspace.workspaceFolders ?? []).filter((f) => f.uri.scheme === 'file').map((f) => f.uri.fsPath);
  return (absPath) => isReallyInside(folders, absPath);
}
