/**
 * Check findings in VS Code's Problems panel, on the image's URI: a broken backing chain and corruptions as errors,
 * leaks as warnings. Replaced by each check of an open image, cleared when it is closed. A finding's code links to
 * `qcow2Inspector.showFinding`, which opens the image's Integrity tab at that finding.
 */
import * as vscode from 'vscode';
import type { IntegrityFinding, IntegrityReport } from '../shared/protocol';
import { hex } from '../shared/format';

/** More would only slow the Problems panel down; the Integrity tab lists them all. */
const MAX_DIAGNOSTICS = 500;
let collection: vscode.DiagnosticCollection | undefined;

export function diagnostics(): vscode.DiagnosticCollection {
  collection ??= vscode.languages.createDiagnosticCollection('qcow2Inspector');
  return collection;
}

const SEVERITY: Record<IntegrityFinding['severity'], vscode.DiagnosticSeverity> = {
  corruption: vscode.DiagnosticSeverity.Error,
  leak: vscode.DiagnosticSeverity.Warning,
  warning: vscode.DiagnosticSeverity.Warning,
  info: vscode.DiagnosticSeverity.Information,
};

function findingLink(uri: vscode.Uri, index: number): vscode.Uri {
  return vscode.Uri.parse(`command:qcow2Inspector.showFinding?${encodeURIComponent(JSON.stringify([uri.toString(), index]))}`);
}

/** Replaces the image's diagnostics with the report's findings. */
export function publishReport(uri: vscode.Uri, r: IntegrityReport): void {
  const out: vscode.Diagnostic[] = [];
  const at = new vscode.Range(0, 0, 0, 0);
  const make = (message: string, severity: vscode.DiagnosticSeverity, index: number): vscode.Diagnostic => {
    const d = new vscode.Diagnostic(at, message, severity);
    d.source = 'qcow2 check';
    d.code = { value: index < 0 ? 'backing-chain' : `finding ${index + 1}`, target: findingLink(uri, index) };
    return d;
  };
  if (r.chainError) out.push(make(r.chainError.message, vscode.DiagnosticSeverity.Error, -1));
  r.findings.slice(0, MAX_DIAGNOSTICS).forEach((f, i) => {
    if (f.severity === 'info') return;
    const where = [f.guestOffset !== undefined ? `guest ${hex(f.guestOffset)}` : '', f.hostOffset !== undefined ? `host ${hex(f.hostOffset)}` : '']
      .filter(Boolean)
      .join(', ');
    out.push(make(where ? `${f.message} (${where})` : f.message, SEVERITY[f.severity], i));
  });
  diagnostics().set(uri, out);
}

export function clearReport(uri: vscode.Uri): void {
  diagnostics().delete(uri);
}
