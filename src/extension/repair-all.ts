/**
 * "Repair all…" (qemu-img check -r all) from the Integrity tab: a modal that says what it changes and offers to
 * keep a copy of the image first, the same refusals as "Repair leaks…" (untrusted workspace, read-only editor, image
 * in use), the copy (reflink or kernel copy through copy_file_range where the native addon has it, else a plain
 * copy; cancellable progress), the repair, and the re-checked result shown in the editor.
 */
import { constants, existsSync } from 'node:fs';
import { open } from 'node:fs/promises';
import * as nodePath from 'node:path';
import * as vscode from 'vscode';
import { seekAddon } from '../qcow2';
import type { IntegrityReport } from '../shared/protocol';
import { repairAllowed } from './repair-gate';
import { checkImageFile } from './integrity';
import { log } from './log';
import type { Qcow2Document } from './qcow2-document';
import { allowPathForTrust } from './trust';

const COPY_CHUNK = 64 * 1024 * 1024;

/** A free name beside the image: disk.qcow2 → disk.before-repair.qcow2 (then -2, -3, …). */
export function backupPath(image: string): string {
  const ext = nodePath.extname(image);
  const stem = image.slice(0, image.length - ext.length);
  for (let i = 1; ; i++) {
    const p = `${stem}.before-repair${i > 1 ? `-${i}` : ''}${ext}`;
    if (!existsSync(p)) return p;
  }
}

/**
 * Copies `from` to a new file `to`: copy_file_range (which reflinks on btrfs/XFS) in 64 MiB steps when the addon
 * has it, else reads and writes; reports the fraction done; a cancelled or failed copy removes the partial file.
 */
export async function copyImage(from: string, to: string, onProgress: (fraction: number) => void, isCancelled: () => boolean): Promise<'kernel' | 'plain'> {
  const src = await open(from, 'r');
  let dst: Awaited<ReturnType<typeof open>> | undefined;
  try {
    dst = await open(to, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
    const size = (await src.stat()).size;
    const copy = seekAddon()?.copyFileRange;
    let how: 'kernel' | 'plain' = copy ? 'kernel' : 'plain';
    const buf = how === 'plain' ? Buffer.alloc(4 * 1024 * 1024) : undefined;
    for (let pos = 0; pos < size;) {
      if (isCancelled()) throw new vscode.CancellationError();
      const n = Math.min(COPY_CHUNK, size - pos);
      let done = 0;
      if (how === 'kernel') {
        try {
          done = copy!(src.fd, pos, dst.fd, pos, n);
        } catch {
          how = 'plain'; // EXDEV and friends: fall back for the rest
          continue;
        }
      } else {
        const { bytesRead } = await src.read(buf!, 0, Math.min(buf!.length, n), pos);
        await dst.write(buf!, 0, bytesRead, pos);
        done = bytesRead;
      }
      if (done <= 0) throw new Error(`${from}: the copy stopped at ${pos} of ${size} bytes`);
      pos += done;
      onProgress(pos / size);
    }
    await dst.sync();
    return how;
  } catch (err) {
    await dst?.close().catch(() => undefined);
    dst = undefined;
    await import('node:fs/promises').then((fs) => fs.rm(to, { force: true }));
    throw err;
  } finally {
    await dst?.close();
    await src.close();
  }
}

/** The whole flow; returns the re-checked report, or undefined when refused or cancelled. */
export async function repairAll(doc: Qcow2Document, publish: (doc: Qcow2Document, r: IntegrityReport) => void): Promise<IntegrityReport | undefined> {
  const name = nodePath.basename(doc.path);
  if (!doc.editable) {
    void vscode.window.showWarningMessage(vscode.l10n.t('Cannot repair: {0}', doc.readOnlyReason ?? ''));
    return undefined;
  }
  const withCopy = vscode.l10n.t('Keep a Copy and Repair');
  const without = vscode.l10n.t('Repair Without a Copy');
  const answer = await vscode.window.showWarningMessage(
    vscode.l10n.t('Repair all problems in {0}?', name),
    {
      modal: true,
      detail: vscode.l10n.t(
        'This is qemu-img check -r all: it rebuilds the reference counts when they are wrong, fixes the COPIED flags of L1 and L2 entries, frees leaked clusters and rewrites a damaged snapshot table. Guest data in clusters with damaged metadata can be lost. Make sure no virtual machine is using the image. A copy keeps the image as it is now, beside it.',
      ),
    },
    withCopy,
    without,
  );
  if (answer !== withCopy && answer !== without) return undefined;
  if (!(await repairAllowed(doc, answer))) return undefined;
  let copyPath: string | undefined;
  if (answer === withCopy) {
    copyPath = backupPath(doc.path);
    const target = copyPath;
    try {
      const how = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Copying {0} to {1}', name, nodePath.basename(target)), cancellable: true },
        async (progress, token) => {
          let last = 0;
          return copyImage(
            doc.path,
            target,
            (f) => {
              const pct = Math.floor(f * 100);
              if (pct > last) progress.report({ increment: pct - last });
              last = pct;
            },
            () => token.isCancellationRequested,
          );
        },
      );
      log().info(`repair: copied ${doc.path} to ${target} (${how === 'kernel' ? 'copy_file_range' : 'read/write'})`);
    } catch (err) {
      if (err instanceof vscode.CancellationError) return undefined;
      void vscode.window.showErrorMessage(vscode.l10n.t('Not repaired: the copy failed: {0}', String((err as Error).message)));
      return undefined;
    }
  }
  const report = await doc.withWritableDevice(() => checkImageFile({ path: doc.path, repair: 'all', allowPath: allowPathForTrust() }));
  log().info(`repair -r all ${doc.path}: ${report.repaired?.corruptionsFixed ?? 0} corruption(s) and ${report.repaired?.leaksFixed ?? 0} leak(s) fixed`);
  // The re-check: the report after a repair is the state qemu-img's "Double checking the fixed image" prints.
  const after = await checkImageFile({ path: doc.path, allowPath: allowPathForTrust() });
  after.repaired = report.repaired ?? { leaksFixed: 0, corruptionsFixed: 0 };
  doc.lastCheck = after;
  doc.notify('check');
  publish(doc, after);
  const summary = vscode.l10n.t(
    'Repaired {0} corruption(s) and {1} leaked cluster(s) in {2}.',
    String(after.repaired.corruptionsFixed),
    String(after.repaired.leaksFixed),
    name,
  );
  void vscode.window.showInformationMessage(copyPath ? `${summary} ${vscode.l10n.t('The copy is {0}.', nodePath.basename(copyPath))}` : summary);
  return after;
}
