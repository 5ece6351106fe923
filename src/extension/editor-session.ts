/**
 * One webview panel showing a Qcow2Document: answers the webview's (validated) requests from the shared
 * device and pushes updates when the document changes.
 */
import * as vscode from 'vscode';
import { asQcow2Error, type Qcow2Dev } from '../qcow2';
import type { ChainLayerInfo, HostMessage, MapRun, ViewId, WebviewMessage } from '../shared/protocol';
import type { DocumentChange, Qcow2Document } from './qcow2-document';
import { validateWebviewMessage } from './messages';
import { buildOverview } from './overview';
import { describeChain } from './chain';
import { MapHost } from './map-host';
import { readHexPage } from './hex-page';
import { webviewHtml } from './webview-html';
import { log, logTiming } from './log';
import { readSettings } from './settings';
import { allowPathForTrust } from './trust';
import { uiStrings } from './strings';
import { editBlocker } from './hex-safety';
import { Disposable } from './util/dispose';
import type { EditorRegistry } from './registry';
import { HexFind } from './hex-find';
import { FilesHost } from './guestfs/files-host';
import { guestImages } from './guestfs/shared-images';

/** Listeners to every message a session posts to its webview (the extension-host tests check what leaves the host). */
export const postTaps = new Set<(msg: HostMessage) => void>();

export interface SessionHooks {
  runCheck(doc: Qcow2Document): Promise<void>;
  repairLeaks(doc: Qcow2Document): Promise<void>;
  repairAll(doc: Qcow2Document): Promise<void>;
  /** Rewrites the backing name of layer `child` to a file the user picks. */
  locateBacking(doc: Qcow2Document, child: string, recorded: string | undefined): Promise<void>;
  loadUsage(doc: Qcow2Document): Promise<void>;
  /** Records an edit in the document's journal and tells VS Code (undo/redo, dirty marker). */
  applyEdit(doc: Qcow2Document, offset: number, before: Uint8Array, after: Uint8Array, label: string): void;
}

/** The registry of open documents and the sessions showing them (registry.ts). */
export type Editors = EditorRegistry<EditorSession>;

export class EditorSession extends Disposable {
  lastActive = Date.now();
  private loaded = false;
  /** Resolves once the webview has the image (loaded); markLoaded is declared first, so the promise's setter sticks. */
  private markLoaded: () => void = () => undefined;
  private readonly whenLoaded = new Promise<void>((resolve) => (this.markLoaded = resolve));
  private pendingShow?: { view: ViewId; offset?: number };
  view: ViewId = 'overview';
  private chainDepth = 64;
  private chainPaths: string[] = [];
  private writableTimer?: ReturnType<typeof setTimeout>;
  private chainLayers: ChainLayerInfo[] = [];
  /** The hex view's Find: one search at a time (a new one cancels the last). */
  private readonly finder = new HexFind(
    (m) => this.post(m),
    async () => ({ dev: await this.dev(), journal: this.doc.journal, path: this.doc.path }),
  );
  /** The Files tab's and the hex inspector's guest-file requests (guestfs/files-host.ts). */
  private readonly files: FilesHost;
  /** The Map tab's requests (map-host.ts). */
  private readonly map: MapHost;

  constructor(
    readonly doc: Qcow2Document,
    readonly panel: vscode.WebviewPanel,
    private readonly extensionUri: vscode.Uri,
    private readonly hooks: SessionHooks,
    editors: Editors,
  ) {
    super();
    this._register(editors.addSession(this));
    this.files = new FilesHost(
      doc.path,
      guestImages(),
      (m) => this.post(m),
      (offset) => this.show('hex', offset),
      () => this.show('map'),
    );
    this._register(this.files);
    this.map = this._register(
      new MapHost(
        doc.path,
        () => this.dev(),
        (m) => this.post(m),
      ),
    );
    const mediaRoot = vscode.Uri.joinPath(extensionUri, 'dist');
    panel.webview.options = { enableScripts: true, localResourceRoots: [mediaRoot] };
    panel.webview.html = webviewHtml(panel.webview, extensionUri);
    this._register(panel.webview.onDidReceiveMessage((m) => void this.onMessage(m)));
    this._register(
      panel.onDidChangeViewState(() => {
        if (panel.active) this.lastActive = Date.now();
      }),
    );
    this._register(doc.onDidChangeState((what) => void this.onDocChanged(what)));
    this._register(
      vscode.workspace.onDidChangeConfiguration((e) => {
        if (e.affectsConfiguration('qcow2Inspector.sectorSize')) this.post({ type: 'settings', settings: { sectorSize: readSettings().sectorSize } });
      }),
    );
    panel.onDidDispose(() => this.dispose());
  }

  post(msg: HostMessage): void {
    for (const tap of postTaps) tap(msg);
    void this.panel.webview.postMessage(msg);
  }

  /** Switches the webview to a view, e.g. the hex view at an offset ("Go to Offset…"). */
  show(view: ViewId, offset?: number): void {
    this.panel.reveal();
    if (!this.loaded) {
      // The webview has not loaded the image yet: show the view once it has.
      this.pendingShow = { view, offset };
      return;
    }
    this.post(offset === undefined ? { type: 'showView', view } : { type: 'showView', view, offset });
  }

  /** "Show Extents on the Map" from a command: the guest file's extents on this editor's map, once it has loaded. */
  async showGuestExtents(volume: string, path: string): Promise<boolean> {
    this.panel.reveal();
    await this.whenLoaded;
    return this.files.showExtents(volume, path);
  }

  /** Shows the Integrity tab at a finding (-1: the broken chain), e.g. from the Problems panel. */
  showFinding(index: number): void {
    this.panel.reveal();
    if (!this.loaded) {
      this.pendingShow = { view: 'integrity' };
      return;
    }
    this.post({ type: 'showView', view: 'integrity', finding: index });
  }

  private async onMessage(raw: unknown): Promise<void> {
    const state = await this.doc.device();
    const vsize = state.ok ? state.dev.info.virtualSize : 0;
    const v = validateWebviewMessage(raw, vsize, this.chainDepth);
    if (!v.ok) {
      log().warn(`${this.doc.path}: rejected a webview message: ${v.reason}`);
      return;
    }
    const msg = v.msg;
    try {
      await this.handle(msg);
    } catch (err) {
      const e = asQcow2Error(err, this.doc.path);
      log().error(`${msg.type}: ${e.message}`);
      this.post({ type: 'error', requestId: 'requestId' in msg ? msg.requestId : undefined, message: e.message });
    }
  }

  private async handle(msg: WebviewMessage): Promise<void> {
    switch (msg.type) {
      case 'ready':
        return this.sendInitial();
      case 'requestMap':
        return this.map.summary(msg.requestId, msg.start, msg.end, msg.buckets);
      case 'requestRuns':
        return this.map.runs(msg.requestId, msg.from, msg.count);
      case 'requestMapping':
        return this.map.mapping(
          msg.requestId,
          msg.offset,
          msg.cellEnd !== undefined && msg.kind !== undefined ? { end: msg.cellEnd, kind: msg.kind, depth: msg.depth ?? 0 } : undefined,
        );
      case 'hexRead':
        return this.sendHexPage(msg.requestId, msg.offset, msg.length);
      case 'runCheck':
        return this.hooks.runCheck(this.doc);
      case 'repairLeaks':
        return this.hooks.repairLeaks(this.doc);
      case 'repairAll':
        return this.hooks.repairAll(this.doc);
      case 'unlock':
        await vscode.commands.executeCommand('qcow2Inspector.unlock', this.doc.uri);
        return;
      case 'locateBacking': {
        // The layer above the missing one names it; only a missing layer can be located.
        const missing = this.chainLayers[msg.depth];
        const child = this.chainLayers[msg.depth - 1];
        if (!missing || !child || missing.errorKind !== 'missing') return;
        return this.hooks.locateBacking(this.doc, msg.depth === 1 ? this.doc.path : child.path, missing.recordedName);
      }
      case 'requestUsage':
        if (this.doc.lastUsage) this.post({ type: 'usage', data: this.doc.lastUsage });
        else await this.hooks.loadUsage(this.doc);
        return;
      case 'openLayer': {
        const p = this.chainPaths[msg.depth];
        if (p === undefined) return;
        await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(p), 'qcow2Inspector.editor', {
          preview: false,
          viewColumn: vscode.ViewColumn.Active,
        });
        return;
      }
      case 'viewChanged':
        this.view = msg.view;
        return;
      case 'reopenWith':
        this.panel.reveal();
        await vscode.commands.executeCommand('workbench.action.reopenWithEditor');
        return;
      case 'copyText':
        await vscode.env.clipboard.writeText(msg.text);
        return;
      case 'fsVolumes':
        return this.files.volumes(msg.requestId);
      case 'fsList':
        return this.files.list(msg.requestId, msg.volume, msg.path);
      case 'fsAction':
        return this.files.action(msg.action, msg.volume, msg.path);
      case 'fsOwner':
        return this.files.owner(msg.requestId, msg.offset);
      case 'fsMetadata':
        return this.files.metadata(msg.requestId);
      case 'hexEdit':
        return this.edit(msg.offset, msg.data, msg.label ?? vscode.l10n.t('Edit bytes'));
      case 'findStart':
        void this.finder.run(msg); // runs on; its own messages say how it ends
        return;
      case 'findCancel':
        return this.finder.cancel(msg.searchId);
    }
  }

  private async sendInitial(): Promise<void> {
    const t0 = Date.now();
    this.post({
      type: 'init',
      fileName: this.doc.uri.path.split('/').pop() ?? this.doc.path,
      editable: this.doc.editable,
      readOnlyReason: this.doc.readOnlyReason,
      settings: { sectorSize: readSettings().sectorSize },
      strings: uiStrings(),
    });
    const state = await this.doc.device();
    if (!state.ok) {
      this.post(state.notQcow2 ? { type: 'notQcow2', fileName: this.doc.path, message: state.message } : { type: 'openError', message: state.message });
      return;
    }
    const overview = buildOverview(state.dev, this.doc.openMs + (Date.now() - t0));
    if (state.chainError) overview.warnings.unshift({ kind: 'untrusted', message: `Backing chain not opened: ${state.chainError}` });
    if (!this.doc.editable && this.doc.readOnlyReason) overview.warnings.push({ kind: 'untrusted', message: this.doc.readOnlyReason });
    this.post({ type: 'overview', data: overview });
    await this.sendWritable(state.dev);
    this.loaded = true;
    this.markLoaded();
    if (this.pendingShow) {
      const p = this.pendingShow;
      this.pendingShow = undefined;
      this.show(p.view, p.offset);
    }
    logTiming('overview (host: open and parse)', overview.elapsedMs, this.doc.path);
    logTiming('overview (since the editor opened)', Date.now() - this.doc.openedAt, this.doc.path);
    if (this.doc.lastCheck) this.post({ type: 'integrity', report: this.doc.lastCheck });
    await this.sendChain();
  }

  private async sendChain(): Promise<void> {
    const allowPath = allowPathForTrust();
    const quick = await describeChain(this.doc.path, { allowPath });
    // Only layers that opened can be opened in their own editor (not one outside an untrusted workspace).
    this.setChain(quick.filter((l) => !l.error).map((l) => l.path));
    this.chainLayers = quick;
    this.post({ type: 'chain', layers: quick });
    const full = await describeChain(this.doc.path, { allowPath, allocationBudgetMs: 2000 });
    this.post({ type: 'chain', layers: full });
  }

  private setChain(paths: string[]): void {
    this.chainPaths = paths;
    this.chainDepth = Math.max(0, paths.length - 1);
  }

  private async dev(): Promise<Qcow2Dev> {
    const s = await this.doc.device();
    if (!s.ok) throw new Error(s.message);
    return s.dev;
  }

  /** Guest bytes as the VM sees them, with pending edits applied, plus how the range maps. */
  async readGuest(offset: number, length: number): Promise<{ bytes: Uint8Array; runs: MapRun[]; pending: Array<[number, number]> }> {
    // Mapping bounded to the range (hex-page.ts): a page fetch stays well under issue #6's 20 ms.
    return readHexPage(await this.dev(), this.doc.journal, offset, length);
  }

  private async sendHexPage(requestId: number, offset: number, length: number): Promise<void> {
    const { bytes, runs, pending } = await this.readGuest(offset, length);
    // postMessage sends a view's whole ArrayBuffer: send one that holds exactly the page.
    const data = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength ? bytes : bytes.slice();
    this.post({ type: 'hexPage', requestId, offset, data, runs, pending });
  }

  /**
   * Tells the hex view whether edits can be saved now, and returns why not. While QEMU holds the image the
   * answer can change on its own, so it is asked again every few seconds until then.
   */
  private async sendWritable(dev: Qcow2Dev): Promise<string | undefined> {
    const b = await editBlocker(this.doc.path, dev, this.doc.readOnlyReason, vscode.workspace.isTrusted);
    this.post({ type: 'hexWritable', blocked: b?.message });
    clearTimeout(this.writableTimer);
    if (b?.kind === 'in-use') {
      this.writableTimer = setTimeout(
        () =>
          void this.dev()
            .then((d) => this.sendWritable(d))
            .catch(() => undefined),
        3000,
      );
    }
    return b?.message;
  }

  private async edit(offset: number, after: Uint8Array, label: string): Promise<void> {
    if (!this.doc.editable) throw new Error(`the image is open read-only: ${this.doc.readOnlyReason}`);
    const before = new Uint8Array(after.length);
    const dev = await this.dev();
    const blocked = await this.sendWritable(dev);
    if (blocked) throw new Error(vscode.l10n.t('Edit not taken: {0}.', blocked));
    await dev.readAt(before, offset);
    this.doc.journal.overlay(offset, before);
    this.hooks.applyEdit(this.doc, offset, before, after.slice(), label);
  }

  private async onDocChanged(what: DocumentChange): Promise<void> {
    if (what === 'check' && this.doc.lastCheck) this.post({ type: 'integrity', report: this.doc.lastCheck });
    else if (what === 'checkRunning') this.post({ type: 'integrityRunning', running: this.doc.checking });
    else if (what === 'usage' && this.doc.lastUsage) this.post({ type: 'usage', data: this.doc.lastUsage });
    else if (what === 'journal') this.post({ type: 'hexEdited', dirty: this.doc.journal.isDirty });
    else if (what === 'pages') this.post({ type: 'refresh' });
    else if (what === 'saved') this.post({ type: 'hexSaved' });
    // The image's guest files read it afresh, and open guest editors hear of it (guestfs/guest-changes.ts).
    if (what === 'reloaded' || what === 'saved') guestImages().changed(this.doc.path);
    if (what === 'reloaded') {
      this.post({ type: 'refresh' });
      await this.sendInitial().catch((err) => log().error(asQcow2Error(err).message));
    }
  }

  override dispose(): void {
    clearTimeout(this.writableTimer);
    this.finder.cancel();
    super.dispose();
  }
}
