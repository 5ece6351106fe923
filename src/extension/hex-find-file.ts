/**
 * The hex view's guest-file scope (issue #12): the file a Find names, opened on the device as the hex view shows
 * it (unsaved edits applied), so its bytes can be searched in file order (src/search/file-scope.ts) and each hit
 * placed on the guest disk. The file system reader gets a device with no write method. No vscode import.
 */
import { detectDisk, diskDevice, GuestFsError, openFs, type Extent, type GuestFs } from '../guestfs/index';
import type { SearchTarget } from '../search';
import type { GuestFileRef } from '../shared/protocol';
import { followLinks, volumeKey, volumeName } from './guestfs/guest-disk';

export interface OpenedGuestFile {
  fs: GuestFs;
  /** The path after following symlinks at its end. */
  path: string;
  size: number;
  /** Where the file's bytes lie on the guest disk, sorted by file offset. */
  extents: Extent[];
  /** "partition 2: /etc/hosts", for messages. */
  label: string;
}

/** Opens `file` on `disk`; a missing volume or path, a directory or a special file is one clear error line. */
export async function openGuestFile(disk: SearchTarget, file: GuestFileRef): Promise<OpenedGuestFile> {
  const layout = await detectDisk(diskDevice(disk));
  const volume = layout.volumes.find((v) => volumeKey(v) === file.volume);
  if (!volume) {
    const have = layout.volumes.map(volumeKey).join(', ') || 'none';
    throw new GuestFsError('not-found', `no partition or logical volume '${file.volume}' (volumes: ${have})`);
  }
  const where = volumeName(volume);
  try {
    if (volume.problem) throw new GuestFsError('unsupported', volume.problem);
    const fs = await openFs(volume.device, volume.content.type);
    const path = await followLinks(fs, file.path);
    const st = await fs.stat(path);
    if (st.type === 'dir') throw new GuestFsError('is-dir', `${file.path} is a directory, not a file`);
    if (st.type !== 'file') throw new GuestFsError('unsupported', `${file.path} is not a regular file`);
    const extents = [...(await fs.extents(path))].sort((a, b) => a.logical - b.logical);
    return { fs, path, size: st.size, extents, label: `${where}: ${file.path}` };
  } catch (err) {
    if (err instanceof GuestFsError) throw new GuestFsError(err.code, `${where}: ${err.message}`);
    throw err;
  }
}

/**
 * The guest-disk length a hit of `length` file bytes at `fileOffset` covers from `diskOffset` without leaving its
 * extent (a hit across two fragments is selected up to the first one's end).
 */
export function lengthOnDisk(extents: readonly Extent[], fileOffset: number, length: number): number {
  let lo = 0;
  let hi = extents.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (extents[mid].logical + extents[mid].length <= fileOffset) lo = mid + 1;
    else hi = mid;
  }
  const x = extents[lo];
  return x && x.logical <= fileOffset ? Math.max(1, Math.min(length, x.logical + x.length - fileOffset)) : length;
}
