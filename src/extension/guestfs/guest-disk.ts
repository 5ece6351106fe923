/**
 * One image's guest disk for the editor side: the image opened read-only, its volumes (detect.ts), and each
 * volume's file system opened on first use and kept while the disk is open. Readers only ever see the
 * ReadOnlyDevice that diskDevice() makes (a read function, no write method). No vscode import.
 */
import { openImage, type Qcow2Dev } from '../../qcow2/index';
import { keyOptions, unlockedKey } from '../unlocked-keys';
import {
  detectDisk,
  diskDevice,
  GuestFsError,
  hasReader,
  openFs,
  volumeAtDiskOffset,
  type DiskLayout,
  type GuestFs,
  type Owner,
  type Volume,
  volumeName,
} from '../../guestfs/index';
import type { GuestVolumeInfo } from '../../shared/protocol';

export { volumeName };

/** How a volume is named in guest URIs and the Files tab: the partition number, the LV name, or "disk". */
export function volumeKey(v: Volume): string {
  return v.kind === 'disk' ? 'disk' : v.id;
}

/** What the Files tab lists of a volume. */
export type VolumeSummary = GuestVolumeInfo;

/** The owner of a guest-disk byte, with the volume it lies in. */
export type DiskOwner = { volume?: Volume; owner: Owner | { kind: 'outside' } };

export class GuestDisk {
  private readonly opened = new Map<string, Promise<GuestFs>>();

  private constructor(
    readonly imagePath: string,
    private readonly dev: Qcow2Dev,
    readonly layout: DiskLayout,
  ) {}

  static async open(imagePath: string, allowPath?: (p: string) => boolean): Promise<GuestDisk> {
    // An encrypted image reads with the key it was unlocked with in the editor (host memory only).
    const dev = await openImage(imagePath, { readOnly: true, allowPath, ...keyOptions(unlockedKey(imagePath)) });
    try {
      const layout = await detectDisk(diskDevice(dev));
      return new GuestDisk(imagePath, dev, layout);
    } catch (err) {
      await dev.close().catch(() => undefined);
      throw err;
    }
  }

  get virtualSize(): number {
    return this.dev.info.virtualSize;
  }

  volumes(): VolumeSummary[] {
    return this.layout.volumes.map((v) => ({
      key: volumeKey(v),
      label: volumeName(v),
      type: v.content.type,
      size: v.device.size,
      readable: hasReader(v.content.type) && !v.problem,
      problem: v.problem,
    }));
  }

  /** The file system of a volume, opened once. A failed open is not kept, so a retry reads again. */
  fs(key: string): Promise<GuestFs> {
    let p = this.opened.get(key);
    if (!p) {
      const v = this.layout.volumes.find((x) => volumeKey(x) === key);
      if (!v) return Promise.reject(new GuestFsError('not-found', `${this.imagePath}: no partition or logical volume '${key}'`));
      if (v.problem) return Promise.reject(new GuestFsError('unsupported', `${this.imagePath}: ${volumeName(v)}: ${v.problem}`));
      p = openFs(v.device, v.content.type).catch((err: unknown) => {
        this.opened.delete(key);
        throw err;
      });
      this.opened.set(key, p);
    }
    return p;
  }

  /** What the guest-disk byte at `diskOffset` is: a file, metadata, free space, or outside any readable file system. */
  async ownerAt(diskOffset: number, signal?: AbortSignal): Promise<DiskOwner> {
    const hit = volumeAtDiskOffset(this.layout, diskOffset);
    if (!hit) return { owner: { kind: 'outside' } };
    const { volume, deviceOffset } = hit;
    if (!hasReader(volume.content.type) || volume.problem) return { volume, owner: { kind: 'outside' } };
    const fs = await this.fs(volumeKey(volume));
    return { volume, owner: await fs.owner(deviceOffset, signal) };
  }

  async close(): Promise<void> {
    this.opened.clear();
    await this.dev.close();
  }
}

/**
 * The final path after following symlinks at the end of `path` (the readers follow those in the middle), at most
 * 40 as Linux does. Returns the path unchanged when it is not a symlink.
 */
export async function followLinks(fs: GuestFs, path: string): Promise<string> {
  let p = path;
  for (let hops = 0; hops < 40; hops++) {
    const st = await fs.stat(p);
    if (st.type !== 'symlink' || st.target === undefined) return p;
    const base = st.target.startsWith('/') ? [] : p.split('/').filter(Boolean).slice(0, -1);
    for (const part of st.target.split('/')) {
      if (part === '' || part === '.') continue;
      if (part === '..') base.pop();
      else base.push(part);
    }
    p = '/' + base.join('/');
  }
  throw new GuestFsError('bad-fs', `${path}: too many levels of symbolic links`);
}
