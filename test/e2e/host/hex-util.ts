/** Shared by the hex editing host tests: the extension's test API, opening an image, editing like the webview. */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as vscode from 'vscode';
import { EDITOR_VIEW_TYPE, extension, waitFor } from './util';

export interface TestDoc {
  path: string;
  uri: vscode.Uri;
  onDidChangeState(listener: (what: string) => void): vscode.Disposable;
  journal: { isDirty: boolean; overlay(offset: number, buf: Uint8Array): void; pendingRanges(): Array<[number, number]> };
  conflict?: string;
}
export interface TestingApi {
  document(path: string): TestDoc | undefined;
  editor: {
    applyEdit(doc: TestDoc, offset: number, before: Uint8Array, after: Uint8Array, label: string): void;
    backupCustomDocument(doc: TestDoc, ctx: { destination: vscode.Uri }, token: vscode.CancellationToken): Promise<vscode.CustomDocumentBackup>;
    openCustomDocument(uri: vscode.Uri, ctx: { backupId?: string; untitledDocumentData?: Uint8Array }, token: vscode.CancellationToken): Promise<TestDoc>;
  };
}

export function testing(): TestingApi | undefined {
  return (extension().exports as { testing?: TestingApi } | undefined)?.testing;
}

export const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
export const token = new vscode.CancellationTokenSource().token;

export function activeTabDirty(): boolean {
  return vscode.window.tabGroups.activeTabGroup.activeTab?.isDirty ?? false;
}

/** Opens `image` in the editable editor and returns its document (through the test API). */
export async function open(image: string): Promise<TestDoc> {
  await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(image), EDITOR_VIEW_TYPE);
  return waitFor(`the document of ${image}`, () => testing()!.document(image));
}

/** Edits like the webview does: `before` is what the view shows now. */
export function edit(doc: TestDoc, offset: number, bytes: number[], current: number[]): void {
  testing()!.editor.applyEdit(doc, offset, Uint8Array.from(current), Uint8Array.from(bytes), 'test edit');
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Replaces vscode.window.showWarningMessage while `fn` runs; `answer` picks the button (undefined = Escape). */
export async function withWarnings<T>(
  answer: (msg: string, items: string[]) => string | undefined,
  fn: (asked: Array<{ msg: string; detail?: string; modal?: boolean; items: string[] }>) => Promise<T>,
): Promise<T> {
  const original = vscode.window.showWarningMessage;
  const asked: Array<{ msg: string; detail?: string; modal?: boolean; items: string[] }> = [];
  (vscode.window as { showWarningMessage: unknown }).showWarningMessage = async (msg: string, opts: unknown, ...items: unknown[]) => {
    const o = typeof opts === 'object' && opts !== null && !('title' in opts) ? (opts as { detail?: string; modal?: boolean }) : undefined;
    const all = (o ? items : [opts, ...items]).map((i) => (typeof i === 'string' ? i : (i as { title: string }).title));
    asked.push({ msg, detail: o?.detail, modal: o?.modal, items: all });
    return answer(msg, all);
  };
  try {
    return await fn(asked);
  } finally {
    (vscode.window as { showWarningMessage: unknown }).showWarningMessage = original;
  }
}
