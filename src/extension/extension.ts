/** Activation: the registry of open editors, the two custom editors and the QCOW2 commands. */
import * as vscode from 'vscode';
import { Qcow2EditorProvider, Qcow2ReadonlyEditorProvider, EDITOR_VIEW_TYPE, READONLY_VIEW_TYPE } from './editor-provider';
import { registerCommands } from './commands';
import { postTaps, type Editors, type SessionHooks } from './editor-session';
import type { HostMessage } from '../shared/protocol';
import { imageIdentity } from './passphrase-store';
import type { Qcow2Document } from './qcow2-document';
import { log } from './log';
import { repairAll } from './repair-all';
import { locateBacking } from './locate-backing';
import { diagnostics, publishReport } from './diagnostics';
import { EditorRegistry } from './registry';
import { checkFile } from './check-document';
import { repairLeaks } from './repair-leaks';
import { loadUsage } from './cluster-usage';
import { activateGuestFiles } from './guestfs/index';

/** What activate() returns: hooks and read-only probes for the extension-host tests. */
export interface InspectorApi {
  testing: {
    document(path: string): Qcow2Document | undefined;
    editor: Qcow2EditorProvider;
    /** The qcow2-guest: provider's change events. */
    onDidChangeGuestFile: vscode.Event<vscode.FileChangeEvent[]>;
    /** Calls `listener` with every message posted to a webview until disposed. */
    onPost(listener: (msg: HostMessage) => void): vscode.Disposable;
    /** Whether SecretStorage holds a passphrase for the open document's image (never the passphrase itself). */
    isPassphraseRemembered(path: string): Promise<boolean>;
  };
  /** The open document's device state for a file: 'ok', 'not-qcow2', 'error' or 'closed'. */
  documentState(path: string): Promise<{ state: 'ok' | 'not-qcow2' | 'error' | 'closed'; message?: string; chainError?: string; editable?: boolean }>;
  /** The view shown by the active editor session. */
  activeView(): string | undefined;
}

export function activate(context: vscode.ExtensionContext): InspectorApi {
  context.subscriptions.push(log(), diagnostics());
  const editors: Editors = new EditorRegistry();
  const hooks: SessionHooks = {
    runCheck: async (doc) => void (await checkFile(doc.path, doc)),
    repairLeaks,
    repairAll: async (doc) => void (await repairAll(doc, (d, r) => publishReport(d.uri, r))),
    locateBacking: async (doc, child, recorded) => void (await locateBacking(doc, child, recorded)),
    loadUsage,
    applyEdit: (doc, offset, before, after, label) => {
      if (!doc.editable) throw new Error(doc.readOnlyReason ?? 'read-only');
      editable.applyEdit(doc, offset, before, after, label);
    },
  };
  // The hooks call it only once sessions exist, after this line.
  const editable = new Qcow2EditorProvider(context, hooks, editors);
  const readonly = new Qcow2ReadonlyEditorProvider(context, hooks, editors);
  const webviewOptions = { retainContextWhenHidden: false, enableFindWidget: false };
  context.subscriptions.push(
    vscode.window.registerCustomEditorProvider(EDITOR_VIEW_TYPE, editable, { webviewOptions, supportsMultipleEditorsPerDocument: true }),
    vscode.window.registerCustomEditorProvider(READONLY_VIEW_TYPE, readonly, { webviewOptions, supportsMultipleEditorsPerDocument: true }),
    ...registerCommands(editors, context.secrets),
  );
  const guestFiles = activateGuestFiles(context, editors);
  log().info('QCOW2 Inspector activated');
  // For the extension-host tests (test/e2e/host): reach a document and the editable provider.
  return {
    testing: {
      document: (path) => editors.document(path),
      editor: editable,
      onDidChangeGuestFile: guestFiles.onDidChangeFile,
      onPost(listener) {
        postTaps.add(listener);
        return new vscode.Disposable(() => postTaps.delete(listener));
      },
      async isPassphraseRemembered(path) {
        const s = await editors.document(path)?.device();
        return !!s?.ok && (await context.secrets.get(await imageIdentity(s.dev))) !== undefined;
      },
    },
    async documentState(path) {
      const doc = editors.document(path);
      if (!doc) return { state: 'closed' };
      const s = await doc.device();
      if (s.ok) return { state: 'ok', chainError: s.chainError, editable: doc.editable };
      return { state: s.notQcow2 ? 'not-qcow2' : 'error', message: s.message, editable: doc.editable };
    },
    activeView: () => editors.activeSession()?.view,
  };
}

export function deactivate(): void {}
