/**
 * Fuzz stage for the FAT and NTFS readers: the image's virtual disk (and a partition at 1 MiB, where the seeds put
 * one) is offered to each reader; whatever opens is browsed with bounded work (a few directories, reads, extents,
 * owner lookups). Every failure must be a one-line GuestFsError, or the engine's own Qcow2Error from a read.
 */
import { openFat } from '../../src/guestfs/fat/index';
import { openNtfs } from '../../src/guestfs/ntfs/index';
import { GuestFsError, type GuestFs, type ReadOnlyDevice } from '../../src/guestfs/types';
import { Qcow2Error } from '../../src/qcow2/errors';
import type { Qcow2Dev } from '../../src/qcow2/qcow2-dev';
import { FuzzFinding } from './finding';
import type { FuzzStage } from './stages';

const MAX_DIRS = 16;
const MAX_FILES = 16;
const MAX_READ = 64 * 1024;
/** owner() builds an index over all metadata; on a fuzzed 8 GiB volume that is slow by design, so only small ones. */
const OWNER_MAX_VOLUME = 256 * 1024 * 1024;

function expectGuestFsError(err: unknown, what: string): void {
  if (err instanceof FuzzFinding) throw err;
  if (err instanceof Qcow2Error) return;
  if (!(err instanceof GuestFsError)) {
    const e = err as Error;
    const finding = new FuzzFinding(`guestfs ${what}: non-GuestFsError ${e?.name ?? typeof err}: ${e?.message ?? String(err)}`);
    if (e?.stack) finding.stack = `${finding.name}: ${finding.message}\n${e.stack}`;
    throw finding;
  }
  if (/[\r\n]/.test(err.message) || err.message.length > 1000) throw new FuzzFinding(`guestfs ${what}: message is not one short line: ${JSON.stringify(err.message.slice(0, 200))}`);
}

function device(dev: Qcow2Dev, offset: number): ReadOnlyDevice {
  const size = dev.virtualSize - offset;
  return {
    size,
    diskOffset: offset,
    async readAt(buf, at) {
      if (at < 0 || at + buf.length > size) throw new FuzzFinding(`guestfs read of ${buf.length} at ${at} past the ${size}-byte device`);
      await dev.readAt(buf, offset + at);
    },
  };
}

async function browse(fs: GuestFs, what: string): Promise<void> {
  const dirs = ['/'];
  const files: string[] = [];
  for (let i = 0; i < dirs.length && i < MAX_DIRS; i++) {
    try {
      for (const e of (await fs.list(dirs[i])).slice(0, 64)) {
        const path = dirs[i] === '/' ? `/${e.name}` : `${dirs[i]}/${e.name}`;
        if (e.type === 'dir') dirs.push(path);
        else files.push(path);
      }
    } catch (err) {
      expectGuestFsError(err, `${what} list ${dirs[i]}`);
    }
  }
  for (const path of files.slice(0, MAX_FILES)) {
    try {
      const st = await fs.stat(path);
      const data = await fs.read(path, 0, MAX_READ);
      if (data.length > Math.min(st.size, MAX_READ)) throw new FuzzFinding(`guestfs ${what} read ${path}: ${data.length} bytes of a ${st.size}-byte file`);
      for (const s of (st.streams ?? []).slice(0, 2)) await fs.read(`${path}:${s}`, 0, MAX_READ);
      const ext = await fs.extents(path);
      if (ext.length > 0 && fs.info.size <= OWNER_MAX_VOLUME) await fs.owner(ext[0].diskOffset - (ext[0].diskOffset % 512));
    } catch (err) {
      expectGuestFsError(err, `${what} ${path}`);
    }
  }
  if (fs.info.size <= OWNER_MAX_VOLUME) {
    for (const at of [0, 4096, Math.floor(fs.info.size / 2), fs.info.size - 1]) {
      try {
        await fs.owner(at);
      } catch (err) {
        expectGuestFsError(err, `${what} owner(${at})`);
      }
    }
  }
}

export const guestFsStage: FuzzStage = {
  name: 'guestfs',
  async run({ dev }) {
    for (const offset of [0, 1 << 20]) {
      if (offset >= dev.virtualSize) continue;
      for (const [name, open] of [
        ['fat', openFat],
        ['ntfs', openNtfs],
      ] as const) {
        let fs: GuestFs;
        try {
          fs = await open(device(dev, offset));
        } catch (err) {
          expectGuestFsError(err, `open ${name} at ${offset}`);
          continue;
        }
        await browse(fs, `${name} at ${offset}`);
      }
    }
  },
};
