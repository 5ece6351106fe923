/** "QCOW2: Save Hex Edits" (Ctrl+S in the QCOW2 editor): an explicit save of the active editor's edits. */
import * as vscode from 'vscode';
import { saveActiveExplicitly } from '../editor-provider';
import type { Editors } from '../editor-session';

export function saveHexEditsCommand(editors: Editors): vscode.Disposable {
  return vscode.commands.registerCommand('qcow2Inspector.saveHexEdits', () => saveActiveExplicitly(editors.activeSession()?.doc));
}
