/**
 * The one owner of what is open: documents by path and the editor sessions (one per webview panel) showing them,
 * and which session is active. Created in activate() and passed to the providers and commands (as vscode-hexeditor's
 * HexEditorRegistry). Generic over the session so that it does not import the session class (no cycle).
 */
import { clearReport } from './diagnostics';
import type { Qcow2Document } from './qcow2-document';

/** What the registry needs of a session. */
export interface RegisteredSession {
  readonly doc: Qcow2Document;
  readonly panel: { readonly active: boolean };
  /** When its panel was last active (Date.now()). */
  readonly lastActive: number;
}

export class EditorRegistry<S extends RegisteredSession> {
  private readonly documents = new Map<string, Qcow2Document>();
  private readonly sessions = new Set<S>();

  /** Tracks an opened document until it is disposed; its Problems-panel entries go with it. */
  trackDocument(doc: Qcow2Document): void {
    this.documents.set(doc.path, doc);
    doc.onDidDispose(() => {
      if (this.documents.get(doc.path) === doc) this.documents.delete(doc.path);
      clearReport(doc.uri);
    });
  }

  /** The open document of a file, if any. */
  document(path: string): Qcow2Document | undefined {
    return this.documents.get(path);
  }

  /** Adds a session; disposing the result removes it. */
  addSession(s: S): { dispose(): void } {
    this.sessions.add(s);
    return { dispose: () => this.sessions.delete(s) };
  }

  sessionsFor(doc: Qcow2Document): S[] {
    return [...this.sessions].filter((s) => s.doc === doc);
  }

  /** The session whose panel is active, else the most recently active one. */
  activeSession(): S | undefined {
    let best: S | undefined;
    for (const s of this.sessions) if (s.panel.active) return s;
    for (const s of this.sessions) if (!best || s.lastActive > best.lastActive) best = s;
    return best;
  }
}
