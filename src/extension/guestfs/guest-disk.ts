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
  type DeviceRange,
  type DiskLayout,
  type GuestFs,
  type Owner,
  type ReadOnlyDevice,
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

  /**
   * Where the readable file systems keep their metadata, as guest-disk ranges (their readers' metadataRanges), and
   * a line for each file system that could not be read.
   */
  async metadataRanges(signal?: AbortSignal): Promise<{ ranges: DeviceRange[]; errors: string[] }> {
    const ranges: DeviceRange[] = [];
    const errors: string[] = [];
    for (const v of this.layout.volumes) {
      if (!hasReader(v.content.type) || v.problem) continue;
      try {
        const fs = await this.fs(volumeKey(v));
        for (const r of (await fs.metadataRanges?.(signal)) ?? []) toDisk(v.device, r.offset, Math.min(r.length, v.device.size - r.offset), ranges);
      } catch (err) {
        signal?.throwIfAborted();
        errors.push(`${volumeName(v)}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return { ranges, errors };
  }

  async close(): Promise<void> {
    this.opened.clear();
    await this.dev.close();
  }
}

/** Device range → guest-disk ranges; a range across LV segments that are not adjacent on the disk is split. */
function toDisk(dev: ReadOnlyDevice, offset: number, length: number, out: DeviceRange[], depth = 0): void {
  if (!(length > 0) || offset < 0) return;
  const map = dev.toDiskOffset;
  if (!map) return void out.push({ offset: dev.diskOffset + offset, length });
  const at = map.call(dev, offset);
  if (map.call(dev, offset + length - 1) === at + length - 1 || depth >= 24 || length < 1024) return void out.push({ offset: at, length });
  const half = Math.floor(length / 2 / 512) * 512 || Math.floor(length / 2);
  toDisk(dev, offset, half, out, depth + 1);
  toDisk(dev, offset + half, length - half, out, depth + 1);
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
