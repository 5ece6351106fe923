/**
 * Localised strings for the webview: VS Code's l10n bundle for the display language (l10n/bundle.l10n.*.json),
 * keyed by the English text. The webview looks each string up and falls back to the English key.
 */
import * as vscode from 'vscode';

export function uiStrings(): Record<string, string> {
  return { ...(vscode.l10n.bundle ?? {}) };
}
