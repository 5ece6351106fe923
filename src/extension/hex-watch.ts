/**
 * Someone else changed the image file while it is open (QEMU ran, qemu-img wrote it, a copy replaced it):
 * with no unsaved hex edits the document reloads; with unsaved edits the user is asked, because the edits
 * were made against the old bytes. While the question is open, and after "keep" until the next explicit save
 * or revert, the document is in conflict: auto-save never writes then (editor-provider.ts). Our own writes
 * (Save, repair) are not reported: they happen inside the document's `writing` window and the file's identity
 * is re-read when the document reloads.
 * Polls with fs.watchFile: one stat a second, and it survives the file being replaced by rename; `changedNow()`
 * stats at once (a save asks it before writing, so a change between two polls is not missed).
 */
import { statSync, unwatchFile, watchFile, type Stats } from 'node:fs';
import type * as vscodeTypes from 'vscode';

/** 'asking': the question is open; 'kept': the user kept edits made on the old contents (until save or revert). */
export type ConflictState = 'none' | 'asking' | 'kept';

export interface WatchedDocument {
  readonly path: string;
  readonly journal: { readonly isDirty: boolean; readonly pendingByteCount?: number };
  /** More than 0 while we write the file ourselves. */
  readonly writing: number;
  conflict: ConflictState;
  reload(): Promise<void>;
  /** Drops the unsaved edits for good (VS Code's revert, so the tab's dirty marker clears too). */
  discard(): Promise<void>;
  onDidChangeState(listener: (what: string) => void): { dispose(): void };
}

export interface ChangeFacts {
  /** Bytes typed in the hex view and not yet saved. */
  pendingBytes: number;
}

export interface ChangePrompt {
  /** Resolves 'discard' (drop the unsaved edits and show the file as it is now) or 'keep'. */
  (path: string, facts: ChangeFacts): Promise<'discard' | 'keep'>;
}

export interface Watcher {
  /** True when the file differs from the one last loaded; starts the reload or the question if so. */
  changedNow(): boolean;
  dispose(): void;
}

type Identity = { mtimeMs: number; size: number; ino: number; ctimeMs: number };

function identity(s: Pick<Stats, 'mtimeMs' | 'size' | 'ino' | 'ctimeMs'>): Identity {
  return { mtimeMs: s.mtimeMs, size: s.size, ino: s.ino, ctimeMs: s.ctimeMs };
}

function same(a: Identity | undefined, b: Identity): boolean {
  return !!a && a.mtimeMs === b.mtimeMs && a.size === b.size && a.ino === b.ino && a.ctimeMs === b.ctimeMs;
}

/** Starts watching; returns a disposable that stops it. */
export function watchForExternalChanges(doc: WatchedDocument, prompt: ChangePrompt, intervalMs = 1000): Watcher {
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
      if (doc.journal.isDirty) {
        doc.conflict = 'asking';
        const answer = await prompt(doc.path, { pendingBytes: doc.journal.pendingByteCount ?? 0 }).catch(() => 'keep' as const);
        if (answer === 'keep') {
          // The edits stay, shown over the file as it is now; a save writes them over it.
          doc.conflict = 'kept';
        } else {
          doc.conflict = 'none';
          await doc.discard();
        }
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
    changedNow: () => {
      if (busy) return true;
      let st: Stats;
      try {
        st = statSync(doc.path);
      } catch {
        return known !== undefined;
      }
      if (same(known, identity(st))) return false;
      void onStat(st);
      return true;
    },
    dispose: () => {
      unwatchFile(doc.path, listener);
      sub.dispose();
    },
  };
}

/** The VS Code question for a changed file with unsaved edits. Keeping is the default (first) button. */
export function vscodeChangePrompt(vscode: typeof vscodeTypes): ChangePrompt {
  return async (path, facts) => {
    const keep = vscode.l10n.t('Keep Unsaved Edits');
    const discard = vscode.l10n.t('Discard Unsaved Edits');
    const answer = await vscode.window.showWarningMessage(
      vscode.l10n.t('{0} changed on disk. {1} byte(s) you typed in the hex view are not saved.', path, String(facts.pendingBytes)),
      {
        modal: true,
        detail: vscode.l10n.t(
          'Edits you saved earlier are in the file (unless the other program overwrote them); this question is only about the unsaved ones, which were typed over the old contents. Keep: they stay pending over the new contents, and only an explicit save writes them (auto-save waits). Discard: they are dropped and the view shows the file as it is now.',
        ),
      },
      keep,
      discard,
    );
    return answer === discard ? 'discard' : 'keep';
  };
}
