/**
 * "QCOW2: Unlock Encrypted Image…" and "QCOW2: Forget Remembered Passphrase". Unlock asks for the passphrase in a
 * password input box, reopens the image with it (a wrong one: the one-line error, and the box again), then offers
 * to remember it in SecretStorage. The passphrase stays in the extension host; no webview message carries it.
 */
import * as vscode from 'vscode';
import { asQcow2Error } from '../../qcow2';
import type { Editors } from '../editor-session';
import type { Qcow2Document } from '../qcow2-document';
import { openEncryptedForOverview } from '../encrypted-open';
import { imageIdentity, PassphraseStore } from '../passphrase-store';
import { log } from '../log';
import { targetFile } from './target-file';

/** How the user is asked; the extension-host tests script these. */
export interface UnlockPrompts {
  passphrase(path: string, error?: string): Thenable<string | undefined>;
  remember(path: string): Thenable<boolean>;
}

export const vscodePrompts: UnlockPrompts = {
  passphrase: (path, error) =>
    vscode.window.showInputBox({
      title: vscode.l10n.t('Unlock {0}', path.split('/').pop() ?? path),
      prompt: error ? vscode.l10n.t('{0}. Try again:', error) : vscode.l10n.t('Passphrase of the encrypted image {0}', path),
      password: true,
      ignoreFocusOut: true,
    }),
  remember: async (path) => {
    const yes = vscode.l10n.t('Remember');
    const answer = await vscode.window.showInformationMessage(
      vscode.l10n.t("Remember the passphrase of {0} in VS Code's secret storage?", path),
      yes,
      vscode.l10n.t('Not Now'),
    );
    return answer === yes;
  },
};

/** The outcome, for the tests: 'unlocked', 'cancelled', or 'not-encrypted' / 'not-open'. */
export type UnlockResult = 'unlocked' | 'cancelled' | 'not-encrypted' | 'not-open';

/** Asks until the passphrase fits or the user cancels; on success offers to remember it. */
export async function unlockDocument(doc: Qcow2Document, prompts: UnlockPrompts = vscodePrompts): Promise<UnlockResult> {
  const state = await doc.device();
  if (!state.ok) return 'not-open';
  if (state.dev.header.cryptMethod === 0) return 'not-encrypted';
  const identity = await imageIdentity(state.dev).catch(() => undefined);
  let error: string | undefined;
  for (;;) {
    const passphrase = await prompts.passphrase(doc.path, error);
    if (passphrase === undefined) return 'cancelled';
    try {
      await doc.unlock(passphrase);
    } catch (err) {
      error = asQcow2Error(err, doc.path).message;
      log().warn(error);
      continue;
    }
    log().info(`${doc.path}: unlocked`);
    if (identity && doc.passphrases && (await doc.passphrases.get(identity)) !== passphrase && (await prompts.remember(doc.path))) {
      await doc.passphrases.store(identity, passphrase);
    }
    return 'unlocked';
  }
}

async function documentFor(editors: Editors, arg: unknown, title: string): Promise<Qcow2Document | undefined> {
  const path = await targetFile(editors, arg, title);
  if (!path) return undefined;
  if (!editors.document(path)) await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(path), 'qcow2Inspector.editor');
  return editors.document(path);
}

export function unlockCommand(editors: Editors): vscode.Disposable {
  return vscode.commands.registerCommand('qcow2Inspector.unlock', async (arg?: unknown) => {
    const doc = await documentFor(editors, arg, vscode.l10n.t('Unlock Encrypted Image'));
    if (!doc) return undefined;
    const r = await unlockDocument(doc);
    if (r === 'not-encrypted') void vscode.window.showInformationMessage(vscode.l10n.t('{0} is not encrypted.', doc.path));
    return r;
  });
}

export function forgetPassphraseCommand(editors: Editors, secrets: vscode.SecretStorage): vscode.Disposable {
  return vscode.commands.registerCommand('qcow2Inspector.forgetPassphrase', async (arg?: unknown) => {
    const path = await targetFile(editors, arg, vscode.l10n.t('Forget Remembered Passphrase'));
    if (!path) return;
    try {
      // The identity comes from the header, which needs no key.
      const dev = await openEncryptedForOverview(path);
      try {
        await new PassphraseStore(secrets).delete(await imageIdentity(dev));
      } finally {
        await dev.close();
      }
      void vscode.window.showInformationMessage(vscode.l10n.t('The passphrase of {0} is no longer remembered.', path));
    } catch (err) {
      void vscode.window.showErrorMessage(asQcow2Error(err, path).message);
    }
  });
}
