/** "QCOW2: Check Image Integrity" on the explorer's file, the active editor's image, or a picked file. */
import * as vscode from 'vscode';
import { checkFile } from '../check-document';
import type { Editors } from '../editor-session';
import { targetFile } from './target-file';

export function checkIntegrityCommand(editors: Editors): vscode.Disposable {
  return vscode.commands.registerCommand('qcow2Inspector.checkIntegrity', async (arg?: unknown) => {
    const path = await targetFile(editors, arg, vscode.l10n.t('Check Image Integrity'));
    return path ? checkFile(path, editors.document(path)) : undefined;
  });
}
