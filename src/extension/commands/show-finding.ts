/** The Problems panel's link for a check finding: the image's Integrity tab at that finding. */
import * as vscode from 'vscode';
import { EDITOR_VIEW_TYPE } from '../editor-provider';
import type { Editors } from '../editor-session';

export function showFindingCommand(editors: Editors): vscode.Disposable {
  return vscode.commands.registerCommand('qcow2Inspector.showFinding', async (uri?: unknown, index?: unknown) => {
    if (typeof uri !== 'string' || typeof index !== 'number' || !Number.isInteger(index)) return;
    const target = vscode.Uri.parse(uri);
    if (target.scheme !== 'file') return;
    if (!editors.document(target.fsPath)) await vscode.commands.executeCommand('vscode.openWith', target, EDITOR_VIEW_TYPE);
    const doc = editors.document(target.fsPath);
    const s = doc ? editors.sessionsFor(doc)[0] : undefined;
    s?.showFinding(index);
  });
}
