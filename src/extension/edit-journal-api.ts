/**
 * The contract between the custom editor's document (H4) and the hex view's edit journal (H6, edit-journal.ts).
 * The document owns one journal; the provider turns each applied edit into a CustomDocumentEditEvent.
 */
import type { Uri } from 'vscode';
import type { Qcow2Dev } from '../qcow2';

/** One replace-only edit of guest bytes. `before` and `after` have the same length. */
export interface JournalEdit {
  offset: number;
  before: Uint8Array;
  after: Uint8Array;
}

export interface EditJournalApi {
  /** Records an edit (the redo stack is cleared). */
  apply(edit: JournalEdit): void;
  undo(): void;
  redo(): void;
  readonly isDirty: boolean;
  /** Applies pending edits onto `buf`, which holds guest bytes read from the device at `offset`. */
  overlay(offset: number, buf: Uint8Array): void;
  /** Writes every pending edit with writeAt, then flushMeta and fsync; afterwards the journal is clean. */
  saveTo(dev: Qcow2Dev): Promise<void>;
  /** Drops the pending edits. */
  revert(): void;
  /** Writes the pending edits (never the image) to `uri` for hot exit. */
  backup(uri: Uri): Promise<void>;
}

export interface EditJournalStatic {
  new (): EditJournalApi;
  /** Reads a journal written by backup(). */
  restore(uri: Uri): Promise<EditJournalApi>;
}
