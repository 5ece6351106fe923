/** "QCOW2: Open Read-Only": any file in the read-only QCOW2 editor. */
import * as vscode from 'vscode';
import { READONLY_VIEW_TYPE } from '../editor-provider';
import type { Editors } from '../editor-session';
import { targetFile } from './target-file';

export function openReadOnlyCommand(editors: Editors): vscode.Disposable {
  return vscode.commands.registerCommand('qcow2Inspector.openReadOnly', async (arg?: unknown) => {
    const path = await targetFile(editors, arg, vscode.l10n.t('Open Read-Only'));
    if (path) await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(path), READONLY_VIEW_TYPE);
  });
}
