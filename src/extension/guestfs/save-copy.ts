/**
 * "Save a Copy" of a guest file to the host: only in a trusted workspace, only to the file the user picks in the
 * save dialog, read and written in 4 MiB pieces under a cancellable progress (a cancelled copy is removed).
 */
import { open, rm } from 'node:fs/promises';
import * as nodePath from 'node:path';
import * as vscode from 'vscode';
import type { GuestFs } from '../../guestfs/index';
import { followLinks } from './guest-disk';
import { log } from '../log';

const PIECE = 4 * 1024 * 1024;

/** What became of a copy: the file written, or why nothing was (undefined both: the user cancelled). */
export interface CopyOutcome {
  saved?: string;
  refused?: string;
}

export async function saveGuestCopy(fs: GuestFs, imagePath: string, path: string): Promise<CopyOutcome> {
  const refuse = (why: string): CopyOutcome => {
    void vscode.window.showWarningMessage(why);
    return { refused: why };
  };
  if (!vscode.workspace.isTrusted) return refuse(vscode.l10n.t('Saving guest files to the host needs a trusted workspace.'));
  const real = await followLinks(fs, path);
  const st = await fs.stat(real);
  if (st.type !== 'file') return refuse(vscode.l10n.t('{0} is not a regular file; only files can be saved.', path));
  const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file')?.uri;
  const name = nodePath.posix.basename(path) || 'guest-file';
  const dest = await vscode.window.showSaveDialog({
    title: vscode.l10n.t('Save a Copy of {0}', path),
    defaultUri: folder ? vscode.Uri.joinPath(folder, name) : undefined,
  });
  if (!dest || dest.scheme !== 'file') return {};
  if (nodePath.resolve(dest.fsPath) === nodePath.resolve(imagePath))
    return refuse(vscode.l10n.t('{0} is the image being browsed; pick another file.', dest.fsPath));
  return vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: vscode.l10n.t('Saving {0}', name), cancellable: true },
    async (progress, token) => {
      const out = await open(dest.fsPath, 'w');
      let done = false;
      try {
        for (let at = 0; at < st.size; at += PIECE) {
          if (token.isCancellationRequested) return {};
          const bytes = await fs.read(real, at, Math.min(PIECE, st.size - at));
          await out.write(bytes, 0, bytes.length, at);
          progress.report({ increment: (bytes.length / Math.max(1, st.size)) * 100 });
        }
        done = true;
      } finally {
        await out.close();
        if (!done) await rm(dest.fsPath, { force: true });
      }
      log().info(`saved ${imagePath}: ${path} (${st.size} bytes) to ${dest.fsPath}`);
      return { saved: dest.fsPath };
    },
  );
}
