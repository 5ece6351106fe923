/** "QCOW2: Create Image…": a new image (optionally over a backing file) through the engine, then opened. */
import * as nodePath from 'node:path';
import * as vscode from 'vscode';
import { asQcow2Error, createImage as createQcow2Image } from '../../qcow2';
import { parseOffset } from '../../shared/format';
import { EDITOR_VIEW_TYPE } from '../editor-provider';
import { log } from '../log';
import { QCOW2_FILTERS } from './target-file';

export function createImageCommand(): vscode.Disposable {
  return vscode.commands.registerCommand('qcow2Inspector.createImage', createImage);
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
    const { sniffQcow2 } = await import('../sniff');
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
