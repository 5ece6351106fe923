/**
 * A read-only FileSystemProvider for guest files (qcow2-guest: URIs, guest-uri.ts), so they open in ordinary
 * editors: text, image preview, diff, search. The root lists the volumes with a readable file system; below it
 * each volume is its file system. Every write is refused with NoPermissions; guest errors become FileSystemErrors.
 */
import * as vscode from 'vscode';
import { GuestFsError, type FileType as GuestFileType, type GuestFs } from '../../guestfs/index';
import { followLinks, type GuestDisk } from './guest-disk';
import { parseGuestUri } from './guest-uri';
import type { OpenImages } from './open-images';
import { GuestChanges } from './guest-changes';

/** readFile gives whole files; beyond this the Files tab's "Save a Copy" is the way. */
export const MAX_READ_FILE_BYTES = 256 * 1024 * 1024;

export class GuestFileSystemProvider implements vscode.FileSystemProvider, vscode.Disposable {
  /** Guest files change only when the image does: guest-changes.ts tells VS Code then. */
  private readonly changes: GuestChanges;
  readonly onDidChangeFile: vscode.Event<vscode.FileChangeEvent[]>;

  constructor(private readonly images: OpenImages) {
    this.changes = new GuestChanges(images);
    this.onDidChangeFile = this.changes.onDidChangeFile;
  }

  watch(uri: vscode.Uri): vscode.Disposable {
    return this.changes.watch(uri);
  }

  dispose(): void {
    this.changes.dispose();
  }

  async stat(uri: vscode.Uri): Promise<vscode.FileStat> {
    return this.guarded(uri, async (_disk, fs, path) => {
      if (!fs) return { type: vscode.FileType.Directory, ctime: 0, mtime: 0, size: 0, permissions: vscode.FilePermission.Readonly };
      const st = await fs.stat(path);
      let type = toFileType(st.type);
      let size = st.size;
      if (st.type === 'symlink') {
        // VS Code wants a link's target type beside the SymbolicLink bit; a dangling link stays a bare link.
        const target = await fs.stat(await followLinks(fs, path)).catch(() => undefined);
        type = vscode.FileType.SymbolicLink | (target ? toFileType(target.type) : vscode.FileType.Unknown);
        if (target) size = target.size;
      }
      // Plus the image's change count (ms): VS Code re-reads an open file only when mtime or size moved, and a hex
      // edit to a file's data changes neither in the guest.
      const mtime = (st.mtime?.getTime() ?? 0) + this.changes.generation(parseGuestUri(uri).imageId);
      return { type, size, mtime, ctime: st.crtime?.getTime() ?? st.ctime?.getTime() ?? mtime, permissions: vscode.FilePermission.Readonly };
    });
  }

  async readDirectory(uri: vscode.Uri): Promise<[string, vscode.FileType][]> {
    return this.guarded(uri, async (disk, fs, path) => {
      if (!fs)
        return disk
          .volumes()
          .filter((v) => v.readable)
          .map((v): [string, vscode.FileType] => [v.key, vscode.FileType.Directory]);
      const entries = await fs.list(path);
      return entries.map((e): [string, vscode.FileType] => [e.name, toFileType(e.type)]);
    });
  }

  async readFile(uri: vscode.Uri): Promise<Uint8Array> {
    return this.guarded(uri, async (_disk, fs, path) => {
      if (!fs) throw vscode.FileSystemError.FileIsADirectory(uri);
      const st = await fs.stat(await followLinks(fs, path));
      if (st.type === 'dir') throw vscode.FileSystemError.FileIsADirectory(uri);
      if (st.size > MAX_READ_FILE_BYTES) {
        throw vscode.FileSystemError.Unavailable(
          vscode.l10n.t(
            '{0} is {1} MiB, more than the {2} MiB an editor can open. Use "Save a Copy" in the Files tab instead.',
            path,
            String(Math.ceil(st.size / 1048576)),
            String(MAX_READ_FILE_BYTES / 1048576),
          ),
        );
      }
      this.changes.noteRead(uri);
      return fs.read(path, 0, st.size);
    });
  }

  createDirectory(uri: vscode.Uri): never {
    throw readOnly(uri);
  }
  writeFile(uri: vscode.Uri): never {
    throw readOnly(uri);
  }
  delete(uri: vscode.Uri): never {
    throw readOnly(uri);
  }
  rename(uri: vscode.Uri): never {
    throw readOnly(uri);
  }

  /** Resolves the URI to its image's disk and file system (none for the root), and maps every error to a FileSystemError. */
  private async guarded<T>(uri: vscode.Uri, fn: (disk: GuestDisk, fs: GuestFs | undefined, path: string) => Promise<T>): Promise<T> {
    const loc = parseGuestUri(uri);
    const image = this.images.pathOf(loc.imageId);
    if (!image) throw vscode.FileSystemError.Unavailable(vscode.l10n.t('{0}: the image of this guest file is not known here; open it again.', uri.toString()));
    try {
      const disk = await this.images.disk(image);
      if (loc.volume === '') return await fn(disk, undefined, '/');
      const fs = await disk.fs(loc.volume);
      return await fn(disk, fs, loc.path);
    } catch (err) {
      throw toFsError(err, uri, image);
    }
  }
}

function toFileType(t: GuestFileType): vscode.FileType {
  if (t === 'dir') return vscode.FileType.Directory;
  if (t === 'file') return vscode.FileType.File;
  if (t === 'symlink') return vscode.FileType.SymbolicLink;
  return vscode.FileType.Unknown;
}

function readOnly(uri: vscode.Uri): vscode.FileSystemError {
  return vscode.FileSystemError.NoPermissions(vscode.l10n.t('{0}: guest file systems are read-only here.', uri.path));
}

/** Guest and image errors as FileSystemErrors whose messages name the image. */
export function toFsError(err: unknown, uri: vscode.Uri, image: string): Error {
  if (err instanceof vscode.FileSystemError) return err;
  const message = err instanceof Error ? err.message : String(err);
  const named = message.startsWith(image) ? message : `${image}: ${uri.path}: ${message}`;
  if (err instanceof GuestFsError) {
    if (err.code === 'not-found') return vscode.FileSystemError.FileNotFound(uri);
    if (err.code === 'not-dir') return vscode.FileSystemError.FileNotADirectory(uri);
    if (err.code === 'is-dir') return vscode.FileSystemError.FileIsADirectory(uri);
  }
  return vscode.FileSystemError.Unavailable(named);
}
