/**
 * Guest files in VS Code: the qcow2-guest: FileSystemProvider (read-only) and its commands, over the shared cache
 * of opened guest disks (shared-images.ts) that the Files tab and the hex inspector also use.
 */
import * as vscode from 'vscode';
import type { Editors } from '../editor-session';
import { GuestFileSystemProvider } from './guest-fs-provider';
import { GUEST_SCHEME } from './guest-uri';
import { openGuestFile, openGuestFsInExplorer, saveGuestFileCopy, showGuestFileExtents } from './guest-commands';
import { guestImages } from './shared-images';

const ID_STORE_KEY = 'qcow2Inspector.guestImageIds';

/** Registers the provider and the commands; returns the provider (the extension-host tests listen to its events). */
export function activateGuestFiles(context: vscode.ExtensionContext, editors: Editors): GuestFileSystemProvider {
  const images = guestImages({
    get: () => context.globalState.get<Record<string, string>>(ID_STORE_KEY),
    set: (map) => context.globalState.update(ID_STORE_KEY, map),
  });
  const provider = new GuestFileSystemProvider(images);
  context.subscriptions.push(
    provider,
    vscode.workspace.registerFileSystemProvider(GUEST_SCHEME, provider, { isReadonly: true, isCaseSensitive: true }),
    vscode.commands.registerCommand('qcow2Inspector.openGuestFsInExplorer', (arg?: unknown) => openGuestFsInExplorer(images, editors, arg)),
    vscode.commands.registerCommand('qcow2Inspector.openGuestFile', (arg?: unknown, spec?: unknown) => openGuestFile(images, editors, arg, spec)),
    vscode.commands.registerCommand('qcow2Inspector.saveGuestFileCopy', (arg?: unknown) => saveGuestFileCopy(images, arg)),
    vscode.commands.registerCommand('qcow2Inspector.showGuestFileExtents', (arg?: unknown, spec?: unknown) => showGuestFileExtents(images, editors, arg, spec)),
    { dispose: () => images.dispose() },
  );
  return provider;
}
