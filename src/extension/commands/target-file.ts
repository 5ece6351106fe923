/** The target of a command: the explorer's file, the active qcow2 editor, or a file the user picks. */
import * as vscode from 'vscode';
import type { Editors } from '../editor-session';

export const QCOW2_FILTERS = { 'QCOW2 images': ['qcow2', 'img', 'qcow'], 'All files': ['*'] };

export async function targetFile(editors: Editors, arg: unknown, title: string): Promise<string | undefined> {
  if (arg instanceof vscode.Uri && arg.scheme === 'file') return arg.fsPath;
  const s = editors.activeSession();
  if (s) return s.doc.path;
  const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: QCOW2_FILTERS, title });
  return picked?.[0]?.fsPath;
}
