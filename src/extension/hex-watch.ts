/**
 * Someone else changed the image file while it is open (QEMU ran, qemu-img wrote it, a copy replaced it):
 * with no unsaved hex edits the document reloads; with unsaved edits the user is asked, because the edits
 * were made against the old bytes. Our own writes (Save, repair) are not reported: they happen inside the
 * document's `writing` window and the file's identity is re-read when the document reloads.
 * Polls with fs.watchFile: one stat a second, and it survives the file being replaced by rename.
 */
import { statSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import type * as vscodeTypes from 'vscode';

export interface WatchedDocument {
  readonly path: string;
  readonly journal: { readonly isDirty: boolean; revert(): void };
  /** More than 0 while we write the file ourselves. */
  readonly writing: number;
  reload(): Promise<void>;
  notify(what: 'journal'): void;
  onDidChangeState(listener: (what: string) => void): { dispose(): void };
}

export interface ChangePrompt {
  /** Resolves 'reload' (drop the edits and show the file as it is now) or 'keep'. */
  (path: string): Promise<'reload' | 'keep'>;
}

type Identity = { mtimeMs: number; size: number; ino: number; ctimeMs: number };

function identity(s: Pick<Stats, 'mtimeMs' | 'size' | 'ino' | 'ctimeMs'>): Identity {
  return { mtimeMs: s.mtimeMs, size: s.size, ino: s.ino, ctimeMs: s.ctimeMs };
}

function same(a: Identity | undefined, b: Identity): boolean {
  return !!a && a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino && a.ctimeMs === b.ctimeMs;
}

/** Starts watching; returns a disposable that stops it. */
export function watchForExternalChanges(doc: WatchedDocument, prompt: ChangePrompt, intervalMs = 1000): { dispose(): void } {
  let known: Identity | undefined;
  const snapshot = () => {
    try {
      known = identity(statSync(doc.path));
    } catch {
      known = undefined; // deleted: the next stat that succeeds counts as a change
    }
  };
  snapshot();
  let busy = false;
  const onStat = async (curr: Stats) => {
    if (busy || doc.writing > 0 || curr.nlink === 0) return;
    const now = identity(curr);
    if (same(known, now)) return;
    busy = true;
    try {
      known = now;
      if (doc.journal.isDirty && (await prompt(doc.path)) === 'keep') return;
      if (doc.journal.isDirty) {
        doc.journal.revert();
        doc.notify('journal');
      }
      await doc.reload();
    } finally {
      snapshot();
      busy = false;
    }
  };
  const listener = (curr: Stats) => void onStat(curr);
  watchFile(doc.path, { interval: intervalMs, persistent: false }, listener);
  // After our own writes the document reloads: take the file's new identity as known.
  const sub = doc.onDidChangeState((what) => {
    if (what === 'reloaded' && !busy) snapshot();
  });
  return {
    dispose: () => {
      unwatchFile(doc.path, listener);
      sub.dispose();
    },
  };
}

/** The VS Code question for a changed file with unsaved edits. */
export function vscodeChangePrompt(vscode: typeof vscodeTypes): ChangePrompt {
  return async (path) => {
    const reload = vscode.l10n.t('Reload (Discard Edits)');
    const keep = vscode.l10n.t('Keep My Edits');
    const answer = await vscode.window.showWarningMessage(
      vscode.l10n.t('{0} changed on disk while it has unsaved hex edits.', path),
      { modal: true, detail: vscode.l10n.t('Your edits were made on the old contents. Reload to see the file as it is now, or keep the edits to write them over the new contents when you save.') },
      reload,
      keep,
    );
    return answer === reload ? 'reload' : 'keep';
  };
}
