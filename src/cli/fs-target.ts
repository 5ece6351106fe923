/**
 * Shared by the `fs` subcommands: open an image read-only, find its volumes, open the file system that `[N:]/path`
 * names, and turn any guest-FS failure into one line naming the image, the volume and the path.
 */
import { openImage, type Qcow2Dev } from '../qcow2/index';
import { detectDisk, diskDevice, findVolume, GuestFsError, openFs, volumeName, type DiskLayout, type GuestFs, type Volume } from '../guestfs/index';
import { UsageError } from './args';

export interface GuestTarget {
  volumeId: string;
  path: string;
}

/** `[N:]/path` → the volume id ('' = whole disk) and the absolute path. */
export function parseGuestPath(spec: string): GuestTarget {
  const m = /^([^/:]*):(\/.*)?$/.exec(spec);
  const target = m ? { volumeId: m[1], path: m[2] ?? '/' } : { volumeId: '', path: spec };
  if (!target.path.startsWith('/')) throw new UsageError(`guest path '${spec}' must be [N:]/absolute/path`);
  return target;
}

export { volumeName };

/** Runs `fn` with the open image and its disk layout; closes the image whatever happens. */
export async function withDisk<T>(image: string, fn: (dev: Qcow2Dev, layout: DiskLayout) => Promise<T>): Promise<T> {
  const dev = await openImage(image, { readOnly: true });
  try {
    const layout = await guarded(image, '', () => detectDisk(diskDevice(dev)));
    return await fn(dev, layout);
  } finally {
    await dev.close();
  }
}

/** Runs `fn` on the file system `spec` names. */
export async function withGuestFs<T>(image: string, spec: string, fn: (fs: GuestFs, path: string, dev: Qcow2Dev, volume: Volume) => Promise<T>): Promise<T> {
  const { volumeId, path } = parseGuestPath(spec);
  return withDisk(image, async (dev, layout) => {
    const volume = await guarded(image, spec, async () => findVolume(layout, volumeId));
    const where = volumeName(volume);
    if (volume.problem) throw new GuestFsError('unsupported', `${image}: ${where}: ${path}: ${volume.problem}`);
    const fs = await guarded(image, where, () => openFs(volume.device, volume.content.type), path);
    return guarded(image, where, () => fn(fs, path, dev, volume), path);
  });
}

/** Rethrows a GuestFsError as one line that names the image, where in it, and the path (unless the reader named it). */
export async function guarded<T>(image: string, where: string, fn: () => Promise<T>, path?: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (!(err instanceof GuestFsError)) throw err;
    const named = path === undefined || err.message.startsWith(`${path}:`) ? err.message : `${path}: ${err.message}`;
    throw new GuestFsError(err.code, `${image}: ${where ? `${where}: ` : ''}${named}`);
  }
}
