/**
 * The guest file-system readers under fuzzing: detect the disk's volumes, open each readable file system, then walk
 * a bounded part of it as the Files tab and the CLI do (list, stat, read, extents, owner). Failures must be a
 * one-line GuestFsError or Qcow2Error; anything else, or a multi-line message, is a finding.
 */
import { detectDisk, diskDevice, GuestFsError, hasReader, openFs, type GuestFs } from '../../src/guestfs/index';
import { joinPath } from '../../src/guestfs/path';
import { Qcow2Error } from '../../src/qcow2/errors';
import { FuzzFinding } from './finding';
import type { FuzzStage } from './stage-types';

const MAX_DIRS = 16;
const MAX_ENTRIES = 128;
const MAX_READ = 64 * 1024;
/** owner() builds an index over all metadata; on a fuzzed 8 GiB volume that is slow by design, so only small ones. */
const OWNER_MAX_VOLUME = 256 * 1024 * 1024;

function expectGuestError(err: unknown, what: string): void {
  if (err instanceof FuzzFinding) throw err;
  if (err instanceof Qcow2Error) return;
  if (!(err instanceof GuestFsError)) {
    const e = err as Error;
    const f = new FuzzFinding(`guestfs ${what}: non-GuestFsError ${e?.name ?? typeof err}: ${e?.message ?? String(err)}`);
    if (e?.stack) f.stack = `${f.name}: ${f.message}\n${e.stack}`;
    throw f;
  }
  if (/[\r\n]/.test(err.message)) throw new FuzzFinding(`guestfs ${what}: message spans lines: ${JSON.stringify(err.message.slice(0, 300))}`);
}

async function attempt(what: string, fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (err) {
    expectGuestError(err, what);
  }
}

/** `base`: where the volume starts on the guest disk (extents are guest-disk offsets, owner() takes volume offsets). */
async function walk(fs: GuestFs, base: number): Promise<void> {
  const dirs = ['/'];
  let entries = 0;
  for (let d = 0; d < dirs.length && d < MAX_DIRS; d++) {
    const dir = dirs[d];
    let list: Awaited<ReturnType<GuestFs['list']>> = [];
    await attempt(`list ${dir}`, async () => (list = await fs.list(dir)));
    for (const e of list) {
      if (++entries > MAX_ENTRIES) return;
      const path = joinPath(dir, e.name);
      await attempt(`stat ${path}`, async () => {
        const st = await fs.stat(path);
        if (st.type === 'dir') dirs.push(path);
        if (st.type === 'file' || st.type === 'symlink') {
          const data = await fs.read(path, 0, MAX_READ);
          if (data.length > MAX_READ) throw new FuzzFinding(`guestfs read of ${path} returned ${data.length} bytes, more than asked`);
          for (const s of (st.streams ?? []).slice(0, 2)) await fs.read(`${path}:${s}`, 0, MAX_READ);
          const extents = await fs.extents(path);
          if (extents[0] && fs.info.size <= OWNER_MAX_VOLUME) await fs.owner(extents[0].diskOffset - base);
        }
      });
    }
  }
}

export const guestFsStage: FuzzStage = {
  name: 'guestfs',
  async run({ dev }) {
    let layout: Awaited<ReturnType<typeof detectDisk>>;
    try {
      layout = await detectDisk(diskDevice(dev));
    } catch (err) {
      expectGuestError(err, 'detect');
      return;
    }
    for (const v of layout.volumes) {
      if (v.problem || !hasReader(v.content.type)) continue;
      let fs: GuestFs | undefined;
      await attempt('open', async () => (fs = await openFs(v.device, v.content.type)));
      if (!fs) continue;
      JSON.stringify(fs.info);
      await walk(fs, v.device.diskOffset);
      if (fs.info.size <= OWNER_MAX_VOLUME) await attempt('owner', () => fs!.owner(Math.floor(v.device.size / 2)));
      // The map's metadata marks (ext reads every group descriptor: small volumes only, as for owner()).
      if (fs.info.size <= OWNER_MAX_VOLUME) await attempt('metadataRanges', async () => JSON.stringify(await fs!.metadataRanges?.()));
    }
  },
};
