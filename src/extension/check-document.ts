/** "Check Image Integrity" on a file or an open document: progress, the log, the Problems panel, a notification. */
import * as nodePath from 'node:path';
import * as vscode from 'vscode';
import { asQcow2Error } from '../qcow2';
import type { IntegrityReport } from '../shared/protocol';
import { checkImageFile, findingLevel, reportLevel, summaryLine } from './integrity';
import type { Qcow2Document } from './qcow2-document';
import { allowPathForTrust } from './trust';
import { log } from './log';
import { publishReport } from './diagnostics';

export async function runCheckOnDocument(doc: Qcow2Document): Promise<IntegrityReport | undefined> {
  return checkFile(doc.path, doc);
}

export async function checkFile(path: string, doc?: Qcow2Document): Promise<IntegrityReport | undefined> {
  setChecking(doc, true);
  try {
    const report = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Checking {0}', nodePath.basename(path)), cancellable: true },
      async (progress, token) => {
        let last = 0;
        return checkImageFile({
          path,
          allowPath: allowPathForTrust(),
          isCancelled: () => token.isCancellationRequested,
          onProgress: (f) => {
            const pct = Math.floor(f * 100);
            if (pct > last) progress.report({ increment: pct - last });
            last = pct;
          },
        });
      },
    );
    logReport(path, report);
    if (doc) {
      doc.lastCheck = report;
      doc.notify('check');
      publishReport(doc.uri, report);
    }
    const line = summaryLine(nodePath.basename(path), report);
    const level = reportLevel(report);
    if (level === 'error') void vscode.window.showErrorMessage(line);
    else if (level === 'warn') void vscode.window.showWarningMessage(line);
    else void vscode.window.showInformationMessage(line);
    return report;
  } catch (err) {
    const e = asQcow2Error(err, path);
    log().error(`check: ${e.message}`);
    void vscode.window.showErrorMessage(e.message);
    return undefined;
  } finally {
    setChecking(doc, false);
  }
}

function setChecking(doc: Qcow2Document | undefined, on: boolean): void {
  if (!doc) return;
  doc.checking = on;
  doc.notify('checkRunning');
}

/** Logs a check at the level of what it found: corruptions as errors, leaks and check errors as warnings. */
export function logReport(path: string, r: IntegrityReport): void {
  const ch = log();
  const summaryLevel = reportLevel(r);
  ch[summaryLevel](`check ${summaryLine(path, r)} (${r.elapsedMs} ms)`);
  for (const f of r.findings) ch[findingLevel(f.severity)](`  ${f.severity}: ${f.message}`);
  if (r.truncated) ch[summaryLevel](`  … and ${r.truncated} more`);
}
