/** Helpers for extension-host tests: fixtures made with qemu-img, the extension under test, polling. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';

export const EXTENSION_ID = 'qcow2-inspector.qcow2-inspector';
export const EDITOR_VIEW_TYPE = 'qcow2Inspector.editor';

export function extension(): vscode.Extension<unknown> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  if (!ext) throw new Error(`extension ${EXTENSION_ID} is not loaded in this extension host`);
  return ext;
}

/** Runs qemu-img and returns its stdout; throws with its stderr on failure. */
export function qemuImg(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Runs qemu-io with each string as a -c command. */
export function qemuIo(image: string, ...cmds: string[]): string {
  return execFileSync('qemu-io', [...cmds.flatMap((c) => ['-c', c]), image], { encoding: 'utf8' });
}

/** A scratch folder under os.tmpdir(); call `cleanup()` in after(). */
export function scratch(prefix = 'q2i-host-'): { dir: string; path(name: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, path: (n) => join(dir, n), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Polls `probe` until it returns a truthy value, or throws `what` after `timeoutMs`. */
export async function waitFor<T>(what: string, probe: () => T | Promise<T>, timeoutMs = 15_000): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v) return v as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The active tab's custom-editor view type, if the active tab is a custom editor. */
export function activeCustomViewType(): string | undefined {
  const input = vscode.window.tabGroups.activeTabGroup.activeTab?.input;
  return input instanceof vscode.TabInputCustom ? input.viewType : undefined;
}

/** Whether the manifest declares the given custom editor (lets tests skip, visibly, until a feature lands). */
export function declaresCustomEditor(viewType: string): boolean {
  const editors = (extension().packageJSON as { contributes?: { customEditors?: { viewType: string }[] } }).contributes?.customEditors ?? [];
  return editors.some((e) => e.viewType === viewType);
}
