/**
 * The guest-file commands: "Open Guest File System in Explorer" (adds the image's qcow2-guest: root as a workspace
 * folder), "Open Guest File…" (a path as the CLI takes it, `[N:]/path`, opened read-only in an editor), "Save a Copy
 * to Host…" and "Show Extents on the Map".
 */
import * as nodePath from 'node:path';
import * as vscode from 'vscode';
import type { Editors } from '../editor-session';
import { GUEST_SCHEME, guestUri, parseGuestUri } from './guest-uri';
import { saveGuestCopy, type CopyOutcome } from './save-copy';
import type { OpenImages } from './open-images';
import { targetFile } from '../commands/target-file';
import { EDITOR_VIEW_TYPE } from '../editor-provider';

/** The explorer's file, the active QCOW2 editor's image, or one the user picks. */
async function imageFor(editors: Editors, arg: unknown, title: string): Promise<string | undefined> {
  if (typeof arg === 'string' && nodePath.isAbsolute(arg)) return arg;
  return targetFile(editors, arg, title);
}

/** Adds the image's guest root as a workspace folder (once); returns its URI. */
export async function openGuestFsInExplorer(images: OpenImages, editors: Editors, arg?: unknown): Promise<vscode.Uri | undefined> {
  const image = await imageFor(editors, arg, vscode.l10n.t('Open Guest File System in Explorer'));
  if (!image) return undefined;
  const root = guestUri(images.register(image));
  // Open it first, so a disk that cannot be read says so here rather than as an empty folder.
  try {
    await vscode.workspace.fs.readDirectory(root);
  } catch (err) {
    void vscode.window.showErrorMessage((err as Error).message);
    return undefined;
  }
  // A second folder may reload the window: the reloaded extension host finds the image by the stored id.
  await images.saved();
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (!folders.some((f) => f.uri.toString() === root.toString())) {
    vscode.workspace.updateWorkspaceFolders(folders.length, 0, { uri: root, name: vscode.l10n.t('{0} (guest)', nodePath.basename(image)) });
  }
  await vscode.commands.executeCommand('workbench.view.explorer');
  return root;
}

/** Opens `[N:]/path` of an image read-only in an editor. Arguments (image, spec) skip the prompts. */
export async function openGuestFile(images: OpenImages, editors: Editors, arg?: unknown, specArg?: unknown): Promise<vscode.Uri | undefined> {
  const image = await imageFor(editors, arg, vscode.l10n.t('Open Guest File'));
  if (!image) return undefined;
  const id = images.register(image);
  let spec = typeof specArg === 'string' ? specArg : undefined;
  if (spec === undefined) {
    const disk = await images.disk(image).catch((err: Error) => {
      void vscode.window.showErrorMessage(err.message);
      return undefined;
    });
    if (!disk) return undefined;
    const first = disk.volumes().find((v) => v.readable);
    spec = await vscode.window.showInputBox({
      title: vscode.l10n.t('Open Guest File'),
      prompt: vscode.l10n.t('Guest path as N:/path (N: a partition number, an LV name, or "disk")'),
      value: first ? `${first.key}:/` : '',
      validateInput: (v) => (parseSpec(v) ? undefined : vscode.l10n.t('Not N:/absolute/path')),
    });
  }
  const loc = spec === undefined ? undefined : parseSpec(spec);
  if (!loc) return undefined;
  const uri = guestUri(id, loc.volume, loc.path);
  try {
    const st = await vscode.workspace.fs.stat(uri);
    if (st.type & vscode.FileType.Directory) {
      void vscode.window.showWarningMessage(vscode.l10n.t('{0} is a directory.', spec!));
      return undefined;
    }
  } catch (err) {
    void vscode.window.showErrorMessage(`${image}: ${spec}: ${(err as Error).message}`);
    return undefined;
  }
  await vscode.commands.executeCommand('vscode.open', uri, { preview: false });
  return uri;
}

function parseSpec(spec: string): { volume: string; path: string } | undefined {
  const m = /^([A-Za-z0-9+_.-]+):(\/.*)$/.exec(spec.trim());
  return m ? { volume: m[1], path: m[2] } : undefined;
}

/** "Save a Copy to Host…" of a guest file: the explorer's or the active editor's qcow2-guest: file. */
export async function saveGuestFileCopy(images: OpenImages, arg?: unknown): Promise<CopyOutcome | undefined> {
  const uri = arg instanceof vscode.Uri ? arg : vscode.window.activeTextEditor?.document.uri;
  if (!uri || uri.scheme !== GUEST_SCHEME) {
    void vscode.window.showInformationMessage(vscode.l10n.t('Pick a guest file (a qcow2-guest: file) first.'));
    return undefined;
  }
  const loc = parseGuestUri(uri);
  const image = images.pathOf(loc.imageId);
  if (!image || loc.volume === '') return undefined;
  try {
    return await saveGuestCopy(await (await images.disk(image)).fs(loc.volume), image, loc.path);
  } catch (err) {
    void vscode.window.showErrorMessage(`${image}: ${loc.volume}: ${loc.path}: ${(err as Error).message}`);
    return { refused: (err as Error).message };
  }
}

/**
 * "Show Extents on the Map" of a guest file: the explorer's or active editor's qcow2-guest: file, or arguments
 * (image, "N:/path"). Opens the image's editor when none is open, then frames the file's extents on its Map tab.
 */
export async function showGuestFileExtents(images: OpenImages, editors: Editors, arg?: unknown, specArg?: unknown): Promise<boolean> {
  let image: string | undefined;
  let loc: { volume: string; path: string } | undefined;
  const uri = arg instanceof vscode.Uri ? arg : arg === undefined ? vscode.window.activeTextEditor?.document.uri : undefined;
  if (uri?.scheme === GUEST_SCHEME) {
    const g = parseGuestUri(uri);
    image = images.pathOf(g.imageId);
    loc = g.volume === '' ? undefined : g;
  } else if (typeof arg === 'string' && nodePath.isAbsolute(arg) && typeof specArg === 'string') {
    image = arg;
    loc = parseSpec(specArg);
  }
  if (!image || !loc) {
    void vscode.window.showInformationMessage(vscode.l10n.t('Pick a guest file (a qcow2-guest: file) first.'));
    return false;
  }
  if (!editors.document(image)) await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(image), EDITOR_VIEW_TYPE);
  const doc = editors.document(image);
  const session = doc ? editors.sessionsFor(doc)[0] : undefined;
  if (!session) return false;
  try {
    return await session.showGuestExtents(loc.volume, loc.path);
  } catch (err) {
    void vscode.window.showErrorMessage(`${image}: ${loc.volume}: ${loc.path}: ${(err as Error).message}`);
    return false;
  }
}
