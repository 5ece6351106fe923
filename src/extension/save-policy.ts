/**
 * Was a save of the hex view's edits asked for by the user, or by VS Code's auto-save? VS Code does not tell a
 * custom editor why it saves, and its auto-save cannot be switched off for one (its working copy's URI has no
 * file extension, so a language-scoped `files.autoSave` default never applies). So the extension marks the saves
 * it starts itself (Ctrl+S, "QCOW2: Save Hex Edits") and recognises auto-save by its timing and focus rules.
 * Pure and unit-tested; README "Saving, auto-save and conflicts" explains the choice.
 */

export type AutoSaveMode = 'off' | 'afterDelay' | 'onFocusChange' | 'onWindowChange';

export interface SaveFacts {
  now: number;
  /** When the last save was started through our own command (Ctrl+S), or 0. */
  explicitAt: number;
  /** When the last edit (or undo/redo) was reported to VS Code. */
  lastChangeAt: number;
  /** When the document was restored dirty from a hot-exit backup (0 if it was not), and no edit came since. */
  restoredAt?: number;
  autoSave: AutoSaveMode;
  autoSaveDelay: number;
  /** The editor's panel is the active editor. */
  panelActive: boolean;
  windowFocused: boolean;
}

/** How long after our own save command its save may arrive (a busy extension host). */
export const EXPLICIT_WINDOW_MS = 10_000;
/** How late after its delay an auto-save may arrive. */
export const AUTO_SAVE_SLACK_MS = 1_500;
/**
 * A document restored dirty from a backup is auto-saved its delay after the editor resolves, which can take a
 * while after a window reload: saves this soon after the restore, before any edit, count as auto-saves.
 */
export const RESTORED_WINDOW_MS = 15_000;

/** 'auto' when the save is (most likely) VS Code's auto-save; 'explicit' otherwise. */
export function classifySave(f: SaveFacts): 'explicit' | 'auto' {
  if (f.explicitAt > 0 && f.now - f.explicitAt >= 0 && f.now - f.explicitAt <= EXPLICIT_WINDOW_MS) return 'explicit';
  switch (f.autoSave) {
    case 'off':
      return 'explicit';
    case 'afterDelay': {
      if (f.restoredAt && f.lastChangeAt <= f.restoredAt && f.now - f.restoredAt <= f.autoSaveDelay + RESTORED_WINDOW_MS) return 'auto';
      const since = f.now - f.lastChangeAt;
      return since >= f.autoSaveDelay - 20 && since <= f.autoSaveDelay + AUTO_SAVE_SLACK_MS ? 'auto' : 'explicit';
    }
    case 'onFocusChange':
      return !f.panelActive || !f.windowFocused ? 'auto' : 'explicit';
    case 'onWindowChange':
      return !f.windowFocused ? 'auto' : 'explicit';
  }
}

export function asAutoSaveMode(v: unknown): AutoSaveMode {
  return v === 'afterDelay' || v === 'onFocusChange' || v === 'onWindowChange' ? v : 'off';
}
