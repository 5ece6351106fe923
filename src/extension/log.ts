/** The extension's LogOutputChannel, created on activation. */
import * as vscode from 'vscode';

let channel: vscode.LogOutputChannel | undefined;

export function log(): vscode.LogOutputChannel {
  channel ??= vscode.window.createOutputChannel('QCOW2 Inspector', { log: true });
  return channel;
}

/** Logs how long something took, in a fixed format the UI test greps: "timing <what>: <ms> ms (<file>)". */
export function logTiming(what: string, ms: number, file: string): void {
  log().info(`timing ${what}: ${Math.round(ms)} ms (${file})`);
}
