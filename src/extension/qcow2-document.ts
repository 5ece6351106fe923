/**
 * One open qcow2 file: a lazily opened engine device shared by all its editors, the hex view's edit journal,
 * and the last integrity report. The device is opened read-only; Save and repair open the file for writing
 * on their own, briefly, then the shared device is reopened so every view sees the new state.
 */
import * as vscode from 'vscode';
import { openImage, asQcow2Error, type EncryptionKey, type OpenOptions, type Qcow2Dev } from '../qcow2';
import { EditJournal } from './edit-journal';
import type { IntegrityReport, UsageData } from '../shared/protocol';
import { sniffQcow2 } from './sniff';
import { allowPathForTrust } from './trust';
import { readSettings } from './settings';
import { log, logTiming } from './log';
import { isEncryptedRefusal, openEncryptedForOverview } from './encrypted-open';
import { Disposable } from './util/dispose';
import { imageIdentity, type PassphraseStore } from './passphrase-store';
import { forgetUnlockedKey, keyOptions, rememberUnlockedKey, unlockedKey } from './unlocked-keys';
import { watchForExternalChanges, vscodeChangePrompt, type ConflictState, type Watcher } from './hex-watch';

export type DeviceState =
  | {
      ok: true;
      dev: Qcow2Dev;
      /** Set when the backing chain could not be opened (the image alone is shown). */
      chainError?: string;
      /** An encrypted image opened without its key: header, tables and map only (unlock to read guest data). */
      locked?: boolean;
    }
  | { ok: false; notQcow2: boolean; message: string };

/**
 * What changed in a document; sessions turn each into messages for their webview (the only way state reaches them).
 * `pages`: guest bytes shown may differ (undo, redo); `saved`: pending edits were written; `checkRunning`: a check
 * started or ended (see `checking`).
 */
export type DocumentChange = 'reloaded' | 'journal' | 'pages' | 'saved' | 'check' | 'checkRunning' | 'usage';

export class Qcow2Document extends Disposable implements vscode.CustomDocument {
  journal: EditJournal;
  lastCheck?: IntegrityReport;
  lastUsage?: UsageData;
  /** A check of this document is running. */
  checking = false;
  /** When the editor was asked to open, for the overview timing. */
  readonly openedAt = Date.now();
  /** How long opening the device took (sniff, header, tables, chain). */
  openMs = 0;
  private devicePromise?: Promise<DeviceState>;
  private readonly disposeEmitter = this._register(new vscode.EventEmitter<void>());
  readonly onDidDispose = this.disposeEmitter.event;
  private readonly changeEmitter = this._register(new vscode.EventEmitter<DocumentChange>());
  /** Views listen to refresh after a save, revert, repair or check. */
  readonly onDidChangeState = this.changeEmitter.event;
  /** More than 0 while we write the file ourselves (hex-watch.ts ignores those changes). */
  writing = 0;
  /** A change on disk under unsaved edits: being asked about, or kept (hex-watch.ts). Auto-save waits meanwhile. */
  conflict: ConflictState = 'none';
  /** When our own save command (Ctrl+S) last asked to save this document (save-policy.ts). */
  explicitSaveAt = 0;
  /** When the last edit, undo or redo was reported to VS Code. */
  lastChangeAt = 0;
  /** When the document was restored from a hot-exit backup (save-policy.ts), else 0. */
  restoredAt = 0;
  /** Drops the unsaved edits through VS Code's revert (set by the editable provider). */
  revertInWorkbench?: () => Promise<void>;
  readonly watcher: Watcher;

  constructor(
    readonly uri: vscode.Uri,
    /** Why writing is not allowed, or undefined when the editor is editable. */
    readonly readOnlyReason: string | undefined,
    journal?: EditJournal,
    /** Where remembered passphrases are (SecretStorage); none in tests that build documents directly. */
    readonly passphrases?: PassphraseStore,
  ) {
    super();
    this.journal = journal ?? new EditJournal();
    this.watcher = watchForExternalChanges(this, vscodeChangePrompt(vscode));
  }

  get path(): string {
    return this.uri.fsPath;
  }

  get editable(): boolean {
    return this.readOnlyReason === undefined;
  }

  /** The shared device, opened on first use. Never rejects: failures come back as a state. */
  device(): Promise<DeviceState> {
    this.devicePromise ??= this.open();
    return this.devicePromise;
  }

  /** The key this image was unlocked with in this window (host memory only), if any. */
  get encryptionKey(): EncryptionKey | undefined {
    return unlockedKey(this.path);
  }

  private openOptions(): OpenOptions & { readOnly: true } {
    const settings = readSettings();
    return { readOnly: true, l2CacheSlices: settings.l2CacheSlices, allowPath: allowPathForTrust() };
  }

  private async open(): Promise<DeviceState> {
    const t0 = Date.now();
    const sniff = await sniffQcow2(this.path);
    if (!sniff.ok) return { ok: false, notQcow2: true, message: sniff.reason };
    const opts = this.openOptions();
    try {
      const key = this.encryptionKey;
      const state = key ? await this.openWithKey(key) : { ok: true as const, dev: await openImage(this.path, opts) };
      this.openMs = Date.now() - t0;
      logTiming('open', this.openMs, this.path);
      return state;
    } catch (err) {
      const e = asQcow2Error(err, this.path);
      if (isEncryptedRefusal(e.reason) || (this.encryptionKey && e.file === this.path)) {
        // No key (or a key that no longer fits): the overview, tables and map still open; guest reads are refused.
        let dev: Qcow2Dev;
        try {
          dev = await openEncryptedForOverview(this.path, { l2CacheSlices: opts.l2CacheSlices, allowPath: opts.allowPath });
        } catch (err2) {
          return { ok: false, notQcow2: false, message: asQcow2Error(err2, this.path).message };
        }
        this.openMs = Date.now() - t0;
        const remembered = await this.unlockRemembered(dev);
        if (remembered) {
          await dev.close().catch(() => undefined);
          return remembered;
        }
        return { ok: true, dev, locked: true, chainError: dev.header.backingFile !== undefined ? 'not opened for an encrypted image' : undefined };
      }
      if (e.code !== 'backing' && e.code !== 'unsupported') return { ok: false, notQcow2: false, message: e.message };
      // The chain is broken (missing file, loop, untrusted path): show the image on its own.
      try {
        const dev = await openImage(this.path, { ...opts, openBacking: false });
        log().warn(`${this.path}: backing chain not opened: ${e.reason}`);
        return { ok: true, dev, chainError: e.reason };
      } catch (err2) {
        return { ok: false, notQcow2: false, message: asQcow2Error(err2, this.path).message };
      }
    }
  }

  /**
   * Opens the image with `key` (tried for every encrypted layer). A wrong key for this image throws its one-line
   * error; a backing layer that does not open (another secret, missing) leaves the image shown on its own.
   */
  private async openWithKey(key: EncryptionKey): Promise<DeviceState & { ok: true }> {
    const opts = { ...this.openOptions(), ...keyOptions(key) };
    try {
      return { ok: true, dev: await openImage(this.path, opts) };
    } catch (err) {
      const e = asQcow2Error(err, this.path);
      if (e.file === this.path && e.code !== 'backing') throw e;
      const dev = await openImage(this.path, { ...opts, openBacking: false });
      log().warn(`${this.path}: backing chain not opened with this passphrase: ${e.message}`);
      return { ok: true, dev, chainError: e.message };
    }
  }

  /** A passphrase remembered in SecretStorage for this image, tried once; one that no longer fits is forgotten. */
  private async unlockRemembered(locked: Qcow2Dev): Promise<(DeviceState & { ok: true }) | undefined> {
    if (!this.passphrases) return undefined;
    const identity = await imageIdentity(locked).catch(() => undefined);
    const passphrase = identity && (await this.passphrases.get(identity));
    if (!identity || passphrase === undefined) return undefined;
    const key = { passphrase };
    try {
      const state = await this.openWithKey(key);
      rememberUnlockedKey(this.path, key);
      log().info(`${this.path}: unlocked with the remembered passphrase`);
      return state;
    } catch (err) {
      log().warn(`${this.path}: the remembered passphrase no longer unlocks the image (${asQcow2Error(err, this.path).reason}); forgotten`);
      await this.passphrases.delete(identity);
      return undefined;
    }
  }

  /**
   * Unlocks an encrypted image with `passphrase`: on success every view reopens on the decrypted device; a wrong
   * passphrase throws its one-line error and leaves the image as it was.
   */
  async unlock(passphrase: string): Promise<void> {
    const key = { passphrase };
    const state = await this.openWithKey(key);
    const old = this.devicePromise;
    this.devicePromise = Promise.resolve(state);
    rememberUnlockedKey(this.path, key);
    if (old) await closeState(old);
    this.lastUsage = undefined;
    this.changeEmitter.fire('reloaded');
  }

  /** Closes and reopens the device (after a write by us or someone else). */
  async reload(): Promise<void> {
    const old = this.devicePromise;
    this.devicePromise = undefined;
    if (old) await closeState(old);
    this.lastUsage = undefined;
    this.changeEmitter.fire('reloaded');
  }

  /** Drops the unsaved edits for good: VS Code's revert (clears the dirty marker), or the journal alone. */
  async discard(): Promise<void> {
    await this.revertInWorkbench?.().catch((err) => log().error(`${this.path}: revert failed: ${(err as Error).message}`));
    if (this.journal.isDirty) {
      this.journal.revert();
      this.notify('journal');
    }
    this.conflict = 'none';
  }

  notify(what: Exclude<DocumentChange, 'reloaded'>): void {
    this.changeEmitter.fire(what);
  }

  /** Opens the file for writing, runs `fn`, and reopens the shared device. */
  async withWritableDevice<T>(fn: (dev: Qcow2Dev) => Promise<T>): Promise<T> {
    if (!this.editable) throw new Error(`${this.path}: ${this.readOnlyReason}`);
    const old = this.devicePromise;
    this.devicePromise = undefined;
    if (old) await closeState(old);
    this.writing++;
    try {
      const dev = await openImage(this.path, {
        readOnly: false,
        l2CacheSlices: readSettings().l2CacheSlices,
        allowPath: allowPathForTrust(),
        ...keyOptions(this.encryptionKey),
      });
      try {
        return await fn(dev);
      } finally {
        await dev.close().catch((err) => log().error(`${this.path}: close after write failed: ${asQcow2Error(err).message}`));
        await this.reload();
      }
    } finally {
      this.writing--;
    }
  }

  override dispose(): void {
    if (this.isDisposed) return;
    this.watcher.dispose();
    forgetUnlockedKey(this.path);
    const d = this.devicePromise;
    this.devicePromise = undefined;
    if (d) void closeState(d);
    this.disposeEmitter.fire();
    super.dispose();
  }
}

async function closeState(p: Promise<DeviceState>): Promise<void> {
  const s = await p;
  if (s.ok) await s.dev.close().catch(() => undefined);
}
