/** "QCOW2: Go to Offset…": the active editor's hex view at a guest offset, size or LBA. */
import * as vscode from 'vscode';
import { parseOffset } from '../../shared/format';
import type { Editors } from '../editor-session';
import { readSettings } from '../settings';

export function goToOffsetCommand(editors: Editors): vscode.Disposable {
  return vscode.commands.registerCommand('qcow2Inspector.goToOffset', (arg?: unknown) => goToOffset(editors, arg));
}

async function goToOffset(editors: Editors, arg?: unknown): Promise<number | undefined> {
  const s = editors.activeSession();
  if (!s) {
    void vscode.window.showInformationMessage(vscode.l10n.t('Open a qcow2 image in the QCOW2 editor first.'));
    return undefined;
  }
  const sectorSize = readSettings().sectorSize;
  const text =
    typeof arg === 'string' || typeof arg === 'number'
      ? String(arg)
      : await vscode.window.showInputBox({
          title: vscode.l10n.t('Go to Offset'),
          prompt: vscode.l10n.t('Guest offset: decimal, 0x hex, a size such as 1M, or an LBA such as "lba 2048"'),
          validateInput: (v) => (parseOffset(v, sectorSize) === undefined ? vscode.l10n.t('Not an offset') : undefined),
        });
  if (text === undefined) return undefined;
  const offset = parseOffset(text, sectorSize);
  if (offset === undefined) return undefined;
  s.show('hex', offset);
  return offset;
}
