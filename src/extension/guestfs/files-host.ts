/**
 * The host side of one editor's Files tab and of its hex inspector's owner row: lists volumes and directories,
 * runs the tab's actions (open, show in hex, copy path, save a copy), and answers what owns a guest-disk byte.
 * Messages arrive already validated (messages.ts). The guest disk comes from the shared OpenImages cache.
 */
import * as vscode from 'vscode';
import { MAX_GUEST_ENTRIES, type GuestEntry, type GuestFileAction, type HostMessage } from '../../shared/protocol';
import { coalesceExtents } from '../../shared/extent-overlay';
import { joinPath } from '../../guestfs/path';
import { GuestFsError, type Extent, type GuestFs } from '../../guestfs/index';
import { followLinks } from './guest-disk';
import { guestUri } from './guest-uri';
import type { OpenImages } from './open-images';
import { ownerText } from './owner-text';
import { saveGuestCopy } from './save-copy';
import { log } from '../log';

/** Entries stat-ed for size and time when the directory does not record them (ext); beyond this only names. */
const MAX_STAT_ENTRIES = 5000;

export class FilesHost {
  private ownerAbort?: AbortController;
  private metadataAbort?: AbortController;

  constructor(
    private readonly imagePath: string,
    private readonly images: OpenImages,
    private readonly post: (msg: HostMessage) => void,
    private readonly showHex: (offset: number) => void,
    /** Switches the editor to its Map tab. */
    private readonly showMap: () => void,
  ) {}

  async volumes(requestId: number): Promise<void> {
    const disk = await this.images.disk(this.imagePath);
    this.post({ type: 'fsVolumes', requestId, volumes: disk.volumes(), warnings: disk.layout.warnings });
  }

  async list(requestId: number, volume: string, path: string): Promise<void> {
    const fs = await this.fs(volume);
    const all = await named(volume, path, () => fs.list(path));
    const shown = all.slice(0, MAX_GUEST_ENTRIES);
    const entries: GuestEntry[] = [];
    for (let i = 0; i < shown.length; i++) {
      const e = shown[i];
      const row: GuestEntry = { name: e.name, type: e.type, size: e.size, mtime: e.mtime?.getTime() };
      if ((row.size === undefined || row.mtime === undefined) && i < MAX_STAT_ENTRIES) {
        const st = await fs.stat(joinPath(path, e.name)).catch(() => undefined);
        if (st) {
          row.size ??= st.size;
          row.mtime ??= st.mtime?.getTime();
        }
      }
      entries.push(row);
    }
    this.post({ type: 'fsList', requestId, volume, path, entries, truncated: all.length - shown.length });
  }

  async action(action: GuestFileAction, volume: string, path: string): Promise<void> {
    switch (action) {
      case 'copyPath':
        await vscode.env.clipboard.writeText(path);
        return;
      case 'open':
        await vscode.commands.executeCommand('vscode.open', guestUri(this.images.register(this.imagePath), volume, path), {
          preview: false,
          viewColumn: vscode.ViewColumn.Beside,
        });
        return;
      case 'hex': {
        const extents = await this.dataExtents(volume, path);
        if (extents) this.showHex(extents[0].diskOffset);
        return;
      }
      case 'extents':
        await this.showExtents(volume, path);
        return;
      case 'saveCopy':
        await named(volume, path, async () => saveGuestCopy(await this.fs(volume), this.imagePath, path));
        return;
    }
  }

  /**
   * "Show extents on the map": the file's extents, joined to a bounded number of ranges (extent-overlay.ts), go to
   * the Map tab, which frames the cells they touch.
   */
  async showExtents(volume: string, path: string): Promise<boolean> {
    const extents = await this.dataExtents(volume, path);
    if (!extents) return false;
    this.post({ type: 'fileExtents', overlay: { volume, path, ...coalesceExtents(extents) } });
    this.showMap();
    return true;
  }

  /** The file's extents (after symlinks), or undefined (and a note to the user) when it has no data sectors. */
  private async dataExtents(volume: string, path: string): Promise<Extent[] | undefined> {
    const fs = await this.fs(volume);
    const extents = await named(volume, path, async () => fs.extents(await followLinks(fs, path)));
    if (extents.length > 0) return extents;
    void vscode.window.showInformationMessage(vscode.l10n.t('{0} has no data sectors of its own (empty, or stored inside its inode or MFT record).', path));
    return undefined;
  }

  /** The map's file-system metadata marks: every readable file system's metadata, joined to a bounded count. */
  async metadata(requestId: number): Promise<void> {
    this.metadataAbort?.abort();
    const abort = (this.metadataAbort = new AbortController());
    // Asked each time the map opens: an unreadable disk (encrypted, damaged) answers with no marks and its reason.
    const found = await this.images
      .disk(this.imagePath)
      .then((disk) => disk.metadataRanges(abort.signal))
      .catch((err: unknown) => ({ ranges: [], errors: [err instanceof Error ? err.message : String(err)] }));
    if (abort.signal.aborted) return;
    const joined = coalesceExtents(found.ranges.map((r) => ({ diskOffset: r.offset, length: r.length })));
    this.post({ type: 'fsMetadata', requestId, ranges: joined.ranges, joined: joined.joined, errors: found.errors });
  }

  /** The owner of a guest-disk byte; a newer request cancels the one before (its index build included). */
  async owner(requestId: number, offset: number): Promise<void> {
    this.ownerAbort?.abort();
    const abort = (this.ownerAbort = new AbortController());
    try {
      const disk = await this.images.disk(this.imagePath);
      const o = await disk.ownerAt(offset, abort.signal);
      if (abort.signal.aborted) return;
      this.post({ type: 'fsOwner', requestId, offset, ...ownerText(o) });
    } catch (err) {
      if (abort.signal.aborted) return;
      // Asked at every cursor stop: an unreadable disk or file system (encrypted, damaged) is said in the row, and
      // logged at debug level rather than as an error each time.
      const reason = err instanceof Error ? err.message : String(err);
      log().debug(`owner of ${offset}: ${reason}`);
      this.post({ type: 'fsOwner', requestId, offset, text: 'not readable', volume: reason });
    }
  }

  private async fs(volume: string): Promise<GuestFs> {
    const disk = await this.images.disk(this.imagePath);
    return named(volume, '/', () => disk.fs(volume));
  }

  dispose(): void {
    this.ownerAbort?.abort();
    this.metadataAbort?.abort();
  }
}

/** A guest error as one line naming the volume and the path (the session adds the image). */
async function named<T>(volume: string, path: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof GuestFsError)) throw err;
    const where = `${volume === 'disk' ? 'whole disk' : volume}: ${path}`;
    throw new GuestFsError(err.code, err.message.includes(path) ? `${volume}: ${err.message}` : `${where}: ${err.message}`);
  }
}
