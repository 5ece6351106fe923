/** The one gate in front of every repair from the editor (Repair leaks…, Repair all…). */
import * as vscode from 'vscode';
import { gatherWriteSafety, writeBlockers } from './hex-safety';
import type { Qcow2Document } from './qcow2-document';

/**
 * Whether a repair of this document may go ahead: a refusing blocker (read-only, untrusted, …) says why and stops it;
 * an asking one (in use) asks once more with `confirm` as the button. A corrupt-flagged image may be repaired: that
 * is how the flag gets cleared.
 */
export async function repairAllowed(doc: Qcow2Document, confirm: string): Promise<boolean> {
  const state = await doc.device();
  if (!state.ok) return true;
  const blockers = writeBlockers(await gatherWriteSafety(doc.path, state.dev, doc.readOnlyReason, vscode.workspace.isTrusted)).filter(
    (b) => b.kind !== 'corrupt',
  );
  const refusal = blockers.find((b) => b.action === 'refuse');
  if (refusal) {
    void vscode.window.showErrorMessage(vscode.l10n.t('Not repaired: {0}.', refusal.message));
    return false;
  }
  const ask = blockers.find((b) => b.action === 'ask');
  return !ask || (await vscode.window.showWarningMessage(ask.message, { modal: true }, confirm)) === confirm;
}
