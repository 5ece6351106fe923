/** The QCOW2 commands: Check Image Integrity, Show Image Info, Go to Offset…, Create Image…. */
import * as nodePath from 'node:path';
import * as vscode from 'vscode';
import { asQcow2Error, createImage as createQcow2Image, openImage } from '../qcow2';
import { formatBytes, parseOffset } from '../shared/format';
import type { IntegrityReport, OverviewData } from '../shared/protocol';
import { activeSession, sessionsFor } from './editor-session';
import { EDITOR_VIEW_TYPE, saveActiveExplicitly } from './editor-provider';
import { checkImageFile, findingLevel, reportLevel, summaryLine } from './integrity';
import type { Qcow2Document } from './qcow2-document';
import { buildOverview } from './overview';
import { allowPathForTrust } from './trust';
import { readSettings } from './settings';
import { log } from './log';
import { clearReport, publishReport } from './diagnostics';
import { repairAllowed } from './repair-gate';
import { readClusterUsage } from './cluster-usage';
import { isEncryptedRefusal, openEncryptedForOverview } from './encrypted-open';
import { findInGuestDisk } from './find-command';

const QCOW2_FILTERS = { 'QCOW2 images': ['qcow2', 'img', 'qcow'], 'All files': ['*'] };

/** Open documents by path, so a command on a file that is open in an editor updates that editor. */
const documents = new Map<string, Qcow2Document>();
/** The open document of a file, if any (also the extension-host tests' way in). */
export function trackedDocument(path: string): Qcow2Document | undefined {
  return documents.get(path);
}

export function trackDocument(doc: Qcow2Document): void {
  documents.set(doc.path, doc);
  doc.onDidDispose(() => {
    if (documents.get(doc.path) === doc) documents.delete(doc.path);
    clearReport(doc.uri);
  });
}

/** The target of a command: the explorer's file, the active qcow2 editor, or a file the user picks. */
async function targetFile(arg: unknown, title: string): Promise<string | undefined> {
  if (arg instanceof vscode.Uri && arg.scheme === 'file') return arg.fsPath;
  const s = activeSession();
  if (s) return s.doc.path;
  const picked = await vscode.window.showOpenDialog({ canSelectMany: false, filters: QCOW2_FILTERS, title });
  return picked?.[0]?.fsPath;
}

export async function runCheckOnDocument(doc: Qcow2Document): Promise<IntegrityReport | undefined> {
  return checkFile(doc.path, doc);
}

async function checkFile(path: string, doc = documents.get(path)): Promise<IntegrityReport | undefined> {
  for (const s of doc ? sessionsFor(doc) : []) s.post({ type: 'integrityRunning', running: true });
  try {
    const report = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Checking {0}', nodePath.basename(path)), cancellable: true },
      async (progress, token) => {
        let last = 0;
        return checkImageFile({
          path,
          allowPath: allowPathForTrust(),
          isCancelled: () => token.isCancellationRequested,
          onProgress: (f) => {
            const pct = Math.floor(f * 100);
            if (pct > last) progress.report({ increment: pct - last });
            last = pct;
          },
        });
      },
    );
    logReport(path, report);
    if (doc) {
      doc.lastCheck = report;
      doc.notify('check');
      publishReport(doc.uri, report);
    }
    const line = summaryLine(nodePath.basename(path), report);
    const level = reportLevel(report);
    if (level === 'error') void vscode.window.showErrorMessage(line);
    else if (level === 'warn') void vscode.window.showWarningMessage(line);
    else void vscode.window.showInformationMessage(line);
    return report;
  } catch (err) {
    const e = asQcow2Error(err, path);
    log().error(`check: ${e.message}`);
    void vscode.window.showErrorMessage(e.message);
    return undefined;
  } finally {
    for (const s of doc ? sessionsFor(doc) : []) s.post({ type: 'integrityRunning', running: false });
  }
}

/** Logs a check at the level of what it found: corruptions as errors, leaks and check errors as warnings. */
function logReport(path: string, r: IntegrityReport): void {
  const ch = log();
  const summaryLevel = reportLevel(r);
  ch[summaryLevel](`check ${summaryLine(path, r)} (${r.elapsedMs} ms)`);
  for (const f of r.findings) ch[findingLevel(f.severity)](`  ${f.severity}: ${f.message}`);
  if (r.truncated) ch[summaryLevel](`  … and ${r.truncated} more`);
}

export async function repairLeaks(doc: Qcow2Document): Promise<void> {
  if (!doc.editable) {
    void vscode.window.showWarningMessage(vscode.l10n.t('Cannot repair: {0}', doc.readOnlyReason ?? ''));
    return;
  }
  const yes = vscode.l10n.t('Repair Leaks');
  const answer = await vscode.window.showWarningMessage(
    vscode.l10n.t(
      'Repair leaked clusters in {0}? This rewrites refcounts in the image. Make sure no virtual machine is using it.',
      nodePath.basename(doc.path),
    ),
    { modal: true },
    yes,
  );
  if (answer !== yes) return;
  if (!(await repairAllowed(doc, yes))) return;
  const report = await doc.withWritableDevice(() => checkImageFile({ path: doc.path, repair: 'leaks', allowPath: allowPathForTrust() }));
  logReport(doc.path, report);
  doc.lastCheck = report;
  doc.notify('check');
  publishReport(doc.uri, report);
  void vscode.window.showInformationMessage(
    vscode.l10n.t('Repaired {0} leaked cluster(s) in {1}.', String(report.repaired?.leaksFixed ?? 0), nodePath.basename(doc.path)),
  );
}

export async function loadUsage(doc: Qcow2Document): Promise<void> {
  const t0 = Date.now();
  const u = await readClusterUsage(doc.path);
  doc.lastUsage = { ...u, available: true, elapsedMs: Date.now() - t0 };
  doc.notify('usage');
}

async function showInfo(arg: unknown): Promise<OverviewData | undefined> {
  const path = await targetFile(arg, vscode.l10n.t('Show Image Info'));
  if (!path) return undefined;
  try {
    const t0 = Date.now();
    const l2CacheSlices = readSettings().l2CacheSlices;
    const dev = await openImage(path, { readOnly: true, openBacking: false, l2CacheSlices }).catch((err) => {
      // An encrypted image shows its header without a key (encrypted-open.ts).
      if (isEncryptedRefusal(asQcow2Error(err, path).reason)) return openEncryptedForOverview(path, { l2CacheSlices });
      throw err;
    });
    try {
      const o = buildOverview(dev, Date.now() - t0);
      const ch = log();
      ch.info(`info ${path}`);
      ch.info(`  virtual size: ${formatBytes(o.virtualSize)} (${o.virtualSize} bytes), file size ${formatBytes(o.fileSize)}, cluster size ${o.clusterSize}`);
      for (const f of o.fields) ch.info(`  ${f.name} = ${f.raw}  (${f.meaning})`);
      for (const w of o.warnings) ch.warn(`  ${w.message}`);
      ch.show(true);
      const s = activeSession();
      if (s && s.doc.path === path) s.show('overview');
      void vscode.window.showInformationMessage(
        vscode.l10n.t(
          '{0}: qcow2 v{1}, virtual size {2}, cluster size {3}',
          nodePath.basename(path),
          String(o.version),
          formatBytes(o.virtualSize),
          formatBytes(o.clusterSize),
        ),
      );
      return o;
    } finally {
      await dev.close();
    }
  } catch (err) {
    void vscode.window.showErrorMessage(asQcow2Error(err, path).message);
    return undefined;
  }
}

async function goToOffset(arg?: unknown): Promise<number | undefined> {
  const s = activeSession();
  if (!s) {
    void vscode.window.showInformationMessage(vscode.l10n.t('Open a qcow2 image in the QCOW2 editor first.'));
    return undefined;
  }
  const sectorSize = readSettings().sectorSize;
  const text =
    typeof arg === 'string' || typeof arg === 'number'
      ? String(arg)
      : await vscode.window.showInputBox({
          title: vscode.l10n.t('Go to Offset'),
          prompt: vscode.l10n.t('Guest offset: decimal, 0x hex, a size such as 1M, or an LBA such as "lba 2048"'),
          validateInput: (v) => (parseOffset(v, sectorSize) === undefined ? vscode.l10n.t('Not an offset') : undefined),
        });
  if (text === undefined) return undefined;
  const offset = parseOffset(text, sectorSize);
  if (offset === undefined) return undefined;
  s.show('hex', offset);
  return offset;
}

/** Options for a non-interactive "Create Image…" (automation and tests). */
interface CreateArgs {
  path: string;
  size?: number;
  clusterSize?: number;
  backingFile?: string;
  backingFormat?: 'qcow2' | 'raw';
}

function isCreateArgs(a: unknown): a is CreateArgs {
  return typeof a === 'object' && a !== null && typeof (a as CreateArgs).path === 'string';
}

async function createImage(arg?: unknown): Promise<string | undefined> {
  if (isCreateArgs(arg) && vscode.workspace.isTrusted) {
    try {
      await createQcow2Image(arg.path, { size: arg.size, clusterSize: arg.clusterSize, backingFile: arg.backingFile, backingFormat: arg.backingFormat });
      log().info(`created ${arg.path}`);
      return arg.path;
    } catch (err) {
      void vscode.window.showErrorMessage(asQcow2Error(err, arg.path).message);
      return undefined;
    }
  }
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage(vscode.l10n.t('Creating images needs a trusted workspace.'));
    return undefined;
  }
  const folder = vscode.workspace.workspaceFolders?.[0]?.uri;
  const dest = await vscode.window.showSaveDialog({
    title: vscode.l10n.t('Create QCOW2 Image'),
    filters: { 'QCOW2 images': ['qcow2'] },
    defaultUri: folder ? vscode.Uri.joinPath(folder, 'new.qcow2') : undefined,
  });
  if (!dest || dest.scheme !== 'file') return undefined;
  const backingPick = await vscode.window.showQuickPick([vscode.l10n.t('No backing file'), vscode.l10n.t('Choose a backing file…')], {
    title: vscode.l10n.t('Backing file'),
  });
  if (backingPick === undefined) return undefined;
  let backing: { file: string; format: 'qcow2' | 'raw' } | undefined;
  if (backingPick !== vscode.l10n.t('No backing file')) {
    const b = await vscode.window.showOpenDialog({ canSelectMany: false, filters: QCOW2_FILTERS, title: vscode.l10n.t('Backing file') });
    if (!b?.[0]) return undefined;
    const { sniffQcow2 } = await import('./sniff');
    const isQcow2 = (await sniffQcow2(b[0].fsPath)).ok;
    backing = { file: nodePath.relative(nodePath.dirname(dest.fsPath), b[0].fsPath), format: isQcow2 ? 'qcow2' : 'raw' };
  }
  const sizeText = await vscode.window.showInputBox({
    title: vscode.l10n.t('Virtual size'),
    prompt: backing ? vscode.l10n.t("Size such as 10G (empty: the backing file's size)") : vscode.l10n.t('Size such as 10G'),
    // A default to accept with Enter: the backing file's size (empty) for an overlay, else a common disk size.
    value: backing ? '' : '10G',
    validateInput: (v) => ((v.trim() === '' && backing) || parseOffset(v) ? undefined : vscode.l10n.t('Not a size')),
  });
  if (sizeText === undefined) return undefined;
  const clusterPick = await vscode.window.showQuickPick(['64 KiB (default)', '4 KiB', '16 KiB', '128 KiB', '512 KiB', '1 MiB', '2 MiB'], {
    title: vscode.l10n.t('Cluster size'),
  });
  if (clusterPick === undefined) return undefined;
  const clusterSize = parseOffset(clusterPick.replace(/ \(default\)/, '').replace(' ', ''));
  try {
    await createQcow2Image(dest.fsPath, {
      size: sizeText.trim() === '' ? undefined : parseOffset(sizeText),
      clusterSize,
      backingFile: backing?.file,
      backingFormat: backing?.format,
    });
    log().info(`created ${dest.fsPath}`);
    await vscode.commands.executeCommand('vscode.openWith', dest, EDITOR_VIEW_TYPE);
    return dest.fsPath;
  } catch (err) {
    void vscode.window.showErrorMessage(asQcow2Error(err, dest.fsPath).message);
    return undefined;
  }
}

export function registerCommands(context: vscode.ExtensionContext): void {
  context.subscriptions.push(
    vscode.commands.registerCommand('qcow2Inspector.checkIntegrity', async (arg?: unknown) => {
      const path = await targetFile(arg, vscode.l10n.t('Check Image Integrity'));
      return path ? checkFile(path) : undefined;
    }),
    vscode.commands.registerCommand('qcow2Inspector.showInfo', showInfo),
    // The Problems panel's link for a check finding: the image's Integrity tab at that finding.
    vscode.commands.registerCommand('qcow2Inspector.showFinding', async (uri?: unknown, index?: unknown) => {
      if (typeof uri !== 'string' || typeof index !== 'number' || !Number.isInteger(index)) return;
      const target = vscode.Uri.parse(uri);
      if (target.scheme !== 'file') return;
      const doc = documents.get(target.fsPath);
      if (!doc) await vscode.commands.executeCommand('vscode.openWith', target, EDITOR_VIEW_TYPE);
      const d = documents.get(target.fsPath);
      const s = d ? sessionsFor(d)[0] : undefined;
      s?.showFinding(index);
    }),
    vscode.commands.registerCommand('qcow2Inspector.goToOffset', goToOffset),
    vscode.commands.registerCommand('qcow2Inspector.findInGuestDisk', findInGuestDisk),
    vscode.commands.registerCommand('qcow2Inspector.createImage', createImage),
    vscode.commands.registerCommand('qcow2Inspector.saveHexEdits', () => saveActiveExplicitly(activeSession()?.doc)),
    vscode.commands.registerCommand('qcow2Inspector.openReadOnly', async (arg?: unknown) => {
      const path = await targetFile(arg, vscode.l10n.t('Open Read-Only'));
      if (path) await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(path), 'qcow2Inspector.readonlyEditor');
    }),
  );
}
