/**
 * "Locate backing file…" on a missing layer of the chain view: the user picks the moved file; the header of the
 * layer that names it gets the new name and format (qemu-img rebase -u, crash-safe: src/qcow2/rebase.ts). The name
 * is relative to that layer's folder when the file is near (the same folder or below, or one level up), else
 * absolute. Refused in an untrusted workspace, in a read-only editor, and while another process locks the file.
 */
import * as nodePath from 'node:path';
import * as vscode from 'vscode';
import { asQcow2Error, NodeFileIo, rebaseUnsafe } from '../qcow2';
import { checkInUse } from './in-use';
import { log } from './log';
import type { Qcow2Document } from './qcow2-document';
import { sniffQcow2 } from './sniff';

/** The name to record for `target` in an image at `image`: relative when near, else absolute. */
export function backingNameFor(image: string, target: string): string {
  const rel = nodePath.relative(nodePath.dirname(image), target);
  const up = rel.split(nodePath.sep).filter((p) => p === '..').length;
  return nodePath.isAbsolute(rel) || up > 1 ? target : rel;
}

/** Rewrites the backing name of `child` (the doc's image or one of its layers) to a file the user picks. */
export async function locateBacking(doc: Qcow2Document, child: string, recorded: string | undefined, pick?: vscode.Uri): Promise<boolean> {
  if (!vscode.workspace.isTrusted) {
    void vscode.window.showWarningMessage(vscode.l10n.t('Locating a backing file rewrites an image header, which needs a trusted workspace.'));
    return false;
  }
  if (!doc.editable) {
    void vscode.window.showWarningMessage(vscode.l10n.t('Cannot change the backing file: {0}', doc.readOnlyReason ?? ''));
    return false;
  }
  const picked =
    pick ??
    (
      await vscode.window.showOpenDialog({
        canSelectMany: false,
        defaultUri: vscode.Uri.file(nodePath.dirname(child)),
        title: vscode.l10n.t('Locate the backing file of {0} (recorded as {1})', nodePath.basename(child), recorded ?? '?'),
      })
    )?.[0];
  if (!picked || picked.scheme !== 'file') return false;
  const format = (await sniffQcow2(picked.fsPath)).ok ? 'qcow2' : 'raw';
  const name = backingNameFor(child, picked.fsPath);
  const yes = vscode.l10n.t('Change Backing File');
  const answer = await vscode.window.showWarningMessage(
    vscode.l10n.t('Point {0} at {1} ({2})?', nodePath.basename(child), name, format),
    {
      modal: true,
      detail: vscode.l10n.t('This rewrites only the backing file name and format in the image header (qemu-img rebase -u). Guest data is not touched.'),
    },
    yes,
  );
  if (answer !== yes) return false;
  const inUse = await checkInUse(child);
  if (inUse.state === 'in-use') {
    void vscode.window.showErrorMessage(vscode.l10n.t('Not changed: {0}', inUse.message));
    return false;
  }
  try {
    const io = await NodeFileIo.open(child, false);
    try {
      await rebaseUnsafe(io, name, format);
    } finally {
      await io.close();
    }
  } catch (err) {
    void vscode.window.showErrorMessage(asQcow2Error(err, child).message);
    return false;
  }
  log().info(`rebase -u ${child}: backing file ${name} (${format})`);
  await doc.reload();
  return true;
}
