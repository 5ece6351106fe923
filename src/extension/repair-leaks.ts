/** "Repair leaks…" from the Integrity tab: asks, checks the write gate, runs `check -r leaks`, shows the result. */
import * as nodePath from 'node:path';
import * as vscode from 'vscode';
import { checkImageFile } from './integrity';
import type { Qcow2Document } from './qcow2-document';
import { allowPathForTrust } from './trust';
import { publishReport } from './diagnostics';
import { repairAllowed } from './repair-gate';
import { logReport } from './check-document';

export async function repairLeaks(doc: Qcow2Document): Promise<void> {
  if (!doc.editable) {
    void vscode.window.showWarningMessage(vscode.l10n.t('Cannot repair: {0}', doc.readOnlyReason ?? ''));
    return;
  }
  const yes = vscode.l10n.t('Repair Leaks');
  const answer = await vscode.window.showWarningMessage(
    vscode.l10n.t(
      'Repair leaked clusters in {0}? This rewrites refcounts in the image. Make sure no virtual machine is using it.',
      nodePath.basename(doc.path),
    ),
    { modal: true },
    yes,
  );
  if (answer !== yes) return;
  if (!(await repairAllowed(doc, yes))) return;
  const report = await doc.withWritableDevice(() => checkImageFile({ path: doc.path, repair: 'leaks', allowPath: allowPathForTrust() }));
  logReport(doc.path, report);
  doc.lastCheck = report;
  doc.notify('check');
  publishReport(doc.uri, report);
  void vscode.window.showInformationMessage(
    vscode.l10n.t('Repaired {0} leaked cluster(s) in {1}.', String(report.repaired?.leaksFixed ?? 0), nodePath.basename(doc.path)),
  );
}
