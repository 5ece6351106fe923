/**
 * The custom editors: `qcow2Inspector.editor` (editable, default for *.qcow2) and
 * `qcow2Inspector.readonlyEditor` (read-only, offered in "Reopen Editor With…" for any file).
 */
import * as vscode from 'vscode';
import { copyFile } from 'node:fs/promises';
import { EditJournal } from './edit-journal';
import { Qcow2Document } from './qcow2-document';
import { EditorSession, type Editors, type SessionHooks } from './editor-session';
import { readSettings } from './settings';
import { log } from './log';
import { PassphraseStore } from './passphrase-store';

import { openImage, asQcow2Error, type Qcow2Dev } from '../qcow2';
import { confirmSafeToWrite, gatherWriteSafety, writeBlockers } from './hex-safety';
import { asAutoSaveMode, classifySave, type SaveFacts } from './save-policy';

export const EDITOR_VIEW_TYPE = 'qcow2Inspector.editor';
export const READONLY_VIEW_TYPE = 'qcow2Inspector.readonlyEditor';

function readOnlyReasonFor(variantReadOnly: boolean): string | undefined {
  if (!vscode.workspace.isTrusted) return vscode.l10n.t('The workspace is not trusted: the image is open read-only.');
  if (variantReadOnly) return vscode.l10n.t('Opened with the read-only QCOW2 editor.');
  if (readSettings().openReadOnly) return vscode.l10n.t('The setting qcow2Inspector.openReadOnly is on.');
  return undefined;
}

export class Qcow2ReadonlyEditorProvider implements vscode.CustomReadonlyEditorProvider<Qcow2Document> {
  constructor(
    protected readonly context: vscode.ExtensionContext,
    protected readonly hooks: SessionHooks,
    protected readonly editors: Editors,
    private readonly variantReadOnly = true,
  ) {}

  async openCustomDocument(uri: vscode.Uri, openContext: vscode.CustomDocumentOpenContext): Promise<Qcow2Document> {
    if (uri.scheme !== 'file') throw new Error(vscode.l10n.t('QCOW2 Inspector needs a local file ({0} is not).', uri.toString()));
    let journal: EditJournal | undefined;
    if (openContext.backupId) {
      try {
        journal = (await EditJournal.restore(vscode.Uri.parse(openContext.backupId))) as EditJournal;
        log().info(`${uri.fsPath}: restored unsaved edits from the hot-exit backup`);
      } catch (err) {
        log().error(`${uri.fsPath}: could not restore the hot-exit backup: ${asQcow2Error(err).message}`);
      }
    }
    const doc = new Qcow2Document(uri, readOnlyReasonFor(this.variantReadOnly), journal, new PassphraseStore(this.context.secrets));
    this.editors.trackDocument(doc);
    return doc;
  }

  resolveCustomEditor(document: Qcow2Document, panel: vscode.WebviewPanel): void {
    new EditorSession(document, panel, this.context.extensionUri, this.hooks, this.editors);
  }
}

export class Qcow2EditorProvider extends Qcow2ReadonlyEditorProvider implements vscode.CustomEditorProvider<Qcow2Document> {
  private readonly changes = new vscode.EventEmitter<vscode.CustomDocumentEditEvent<Qcow2Document>>();
  readonly onDidChangeCustomDocument = this.changes.event;

  constructor(context: vscode.ExtensionContext, hooks: SessionHooks, editors: Editors) {
    super(context, hooks, editors, false);
  }

  override async openCustomDocument(uri: vscode.Uri, openContext: vscode.CustomDocumentOpenContext): Promise<Qcow2Document> {
    const doc = await super.openCustomDocument(uri, openContext);
    doc.revertInWorkbench = () => revertInWorkbench(doc);
    if (openContext.backupId) doc.restoredAt = Date.now();
    return doc;
  }

  /** Records an edit and hands VS Code its undo/redo. */
  applyEdit(doc: Qcow2Document, offset: number, before: Uint8Array, after: Uint8Array, label: string): void {
    doc.journal.apply({ offset, before, after });
    doc.notify('journal');
    doc.lastChangeAt = Date.now();
    this.changes.fire({
      document: doc,
      label,
      undo: () => {
        doc.journal.undo();
        doc.lastChangeAt = Date.now();
        doc.notify('journal');
        doc.notify('pages');
      },
      redo: () => {
        doc.journal.redo();
        doc.lastChangeAt = Date.now();
        doc.notify('journal');
        doc.notify('pages');
      },
    });
  }

  async saveCustomDocument(doc: Qcow2Document): Promise<void> {
    if (!doc.journal.isDirty) return;
    const kind = classifySave(
      saveFacts(
        doc,
        this.editors.sessionsFor(doc).some((s) => s.panel.active),
      ),
    );
    doc.explicitSaveAt = 0;
    const changed = vscode.l10n.t('Not saved: {0} changed on disk under unsaved edits; answer the question about it first.', doc.path);
    if (doc.conflict === 'asking') throw new Error(changed);
    if (kind === 'auto') {
      // VS Code's auto-save: a stray keystroke must not become a guest write (README: "Saving, auto-save and conflicts").
      if (!readSettings().hexAutoSave)
        throw new Error(vscode.l10n.t('Not saved by auto-save: hex edits are written by an explicit save only (setting qcow2Inspector.hex.autoSave).'));
      if (doc.conflict !== 'none' || doc.watcher.changedNow()) throw new Error(changed);
    } else if (doc.watcher.changedNow()) {
      throw new Error(changed);
    }
    const state = await doc.device();
    if (!state.ok) throw new Error(state.message);
    if (kind === 'auto') {
      // Auto-save never asks and never writes past a blocker (in use, corrupt…): it waits for an explicit save.
      const blocker = writeBlockers(await gatherWriteSafety(doc.path, state.dev, doc.readOnlyReason, vscode.workspace.isTrusted))[0];
      if (blocker) throw new Error(vscode.l10n.t('Not saved by auto-save: {0}.', blocker.message));
    } else if (!(await confirmSafeToWrite(doc.path, state.dev, doc.readOnlyReason))) throw new Error(vscode.l10n.t('Save cancelled.'));
    await doc.withWritableDevice((dev) => saveJournal(doc, dev));
    doc.conflict = 'none';
    log().info(`${doc.path}: saved${kind === 'auto' ? ' (auto-save)' : ''}`);
    doc.notify('saved');
  }

  async saveCustomDocumentAs(doc: Qcow2Document, destination: vscode.Uri): Promise<void> {
    if (destination.scheme !== 'file') throw new Error(vscode.l10n.t('Save As needs a local file.'));
    // An untrusted workspace writes nothing; the copy would also open its backing chain wherever it points.
    if (!vscode.workspace.isTrusted) throw new Error(vscode.l10n.t('Not saved: {0}.', 'the workspace is not trusted, so images open read-only'));
    // Copy the image as it is on disk, then write the pending edits into the copy; the original stays untouched.
    await copyFile(doc.path, destination.fsPath);
    const dev = await openImage(destination.fsPath, { readOnly: false });
    try {
      await saveJournal(doc, dev, false);
    } finally {
      await dev.close();
    }
  }

  async revertCustomDocument(doc: Qcow2Document): Promise<void> {
    doc.conflict = 'none';
    doc.journal.revert();
    doc.notify('journal');
    await doc.reload();
  }

  async backupCustomDocument(doc: Qcow2Document, context: vscode.CustomDocumentBackupContext): Promise<vscode.CustomDocumentBackup> {
    await doc.journal.backup(context.destination);
    return {
      id: context.destination.toString(),
      delete: () => void vscode.workspace.fs.delete(context.destination).then(undefined, () => undefined),
    };
  }
}

async function saveJournal(doc: Qcow2Document, dev: Qcow2Dev, markClean = true): Promise<void> {
  if (!markClean) {
    // saveTo marks the journal clean; for Save As the original document keeps its pending edits.
    const copy = new EditJournal();
    Object.assign(copy, structuredClone(doc.journal));
    await copy.saveTo(dev);
    return;
  }
  await doc.journal.saveTo(dev);
}

/** What classifySave needs, from the document, the settings and the window. */
function saveFacts(doc: Qcow2Document, panelActive: boolean): SaveFacts {
  const files = vscode.workspace.getConfiguration('files', doc.uri);
  const delay = files.get<number>('autoSaveDelay', 1000);
  return {
    now: Date.now(),
    explicitAt: doc.explicitSaveAt,
    lastChangeAt: doc.lastChangeAt,
    restoredAt: doc.restoredAt,
    autoSave: asAutoSaveMode(files.get('autoSave')),
    autoSaveDelay: typeof delay === 'number' && delay >= 0 ? delay : 1000,
    panelActive,
    windowFocused: vscode.window.state.focused,
  };
}

/** The document's tab in the editable editor, if open. */
function tabOf(doc: Qcow2Document): vscode.Tab | undefined {
  for (const g of vscode.window.tabGroups.all) {
    for (const t of g.tabs) if (t.input instanceof vscode.TabInputCustom && t.input.viewType === EDITOR_VIEW_TYPE && t.input.uri.fsPath === doc.path) return t;
  }
  return undefined;
}

/** VS Code's own revert of the document (drops the edits, clears the tab's dirty marker and the undo stack). */
async function revertInWorkbench(doc: Qcow2Document): Promise<void> {
  const tab = tabOf(doc);
  if (!tab) return;
  await vscode.commands.executeCommand('vscode.openWith', doc.uri, EDITOR_VIEW_TYPE, { viewColumn: tab.group.viewColumn, preserveFocus: false });
  await vscode.commands.executeCommand('workbench.action.files.revert');
}

/** "QCOW2: Save Hex Edits" (Ctrl+S in the QCOW2 editor): marks the save as the user's, then saves. */
export async function saveActiveExplicitly(doc: Qcow2Document | undefined): Promise<void> {
  if (doc) doc.explicitSaveAt = Date.now();
  await vscode.commands.executeCommand('workbench.action.files.save');
}
