/**
 * Issue #13's guest file-system figures, ours beside e2fsprogs on the same ext4 (4 KiB blocks), page cache warm:
 * - list a 10,000-entry directory with types: our reader over the qcow2 (target < 300 ms absolute) beside
 *   `debugfs -R "ls -l"` on the raw file system (which also stats every entry; a reference, not the same work);
 * - read a 50 MiB file to a host file: ours through the qcow2 vs `debugfs -R "dump"` on the raw FS (target <= 1.5x);
 * - owner(): the one-time index of that file system (10,000+ files) and the time per lookup after it.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { randomFillSync } from 'node:crypto';
import { openImage } from '../src/qcow2';
import { detectDisk, diskDevice, findVolume, openFs, type GuestFs } from '../src/guestfs';
import { MiB, qemuImg, row, timeAsync, timeCommand, warmPageCache, type BenchContext, type BenchRow } from './lib';

const CHUNK = 4 * MiB;

async function readWhole(fs: GuestFs, path: string, out: string): Promise<void> {
  const fd = openSync(out, 'w');
  try {
    for (let at = 0; ; at += CHUNK) {
      const buf = await fs.read(path, at, CHUNK);
      writeSync(fd, buf);
      if (buf.length < CHUNK) return;
    }
  } finally {
    closeSync(fd);
  }
}

export default async function guestfsBench(ctx: BenchContext): Promise<BenchRow[]> {
  const src = join(ctx.tmp, 'tree');
  mkdirSync(join(src, 'many'), { recursive: true });
  ctx.log('making a 10,000-entry directory and a 50 MiB file');
  for (let i = 0; i < 10_000; i++) writeFileSync(join(src, 'many', `file-${String(i).padStart(5, '0')}.txt`), i % 7 ? '' : 'x');
  writeFileSync(join(src, 'big.bin'), randomFillSync(Buffer.alloc(50 * MiB)));
  const fsImg = join(ctx.tmp, 'fs.img');
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', '-d', src, fsImg, '256M'], { stdio: 'ignore' });
  const qcow = join(ctx.tmp, 'fs.qcow2');
  qemuImg('convert', '-q', '-O', 'qcow2', fsImg, qcow);
  warmPageCache(fsImg);
  warmPageCache(qcow);

  const dev = await openImage(qcow, { readOnly: true });
  try {
    const vol = findVolume(await detectDisk(diskDevice(dev)), '');
    // Each timed run opens the file system afresh, so no directory or block-map cache carries over.
    const list = await timeAsync(
      async () => {
        const fs = await openFs(vol.device, vol.content.type);
        if ((await fs.list('/many')).length !== 10_000) throw new Error('wrong entry count');
      },
      { runs: 5 },
    );
    const theirsList = timeCommand('debugfs', ['-R', 'ls -l /many', fsImg], { runs: 3 });
    const out = join(ctx.tmp, 'out.bin');
    const read = await timeAsync(async () => readWhole(await openFs(vol.device, vol.content.type), '/big.bin', out), { runs: 5 });
    const theirsRead = timeCommand('debugfs', ['-R', `dump /big.bin ${out}`, fsImg], { runs: 5 });
    const fs = await openFs(vol.device, vol.content.type);
    const t0 = performance.now();
    await fs.owner(64 * MiB); // past the boot block, so the index is built
    const indexMs = performance.now() - t0;
    const lookups = 10_000;
    const t1 = performance.now();
    for (let i = 0; i < lookups; i++) await fs.owner(Math.floor((i / lookups) * vol.device.size));
    const perLookupMs = (performance.now() - t1) / lookups;
    return [
      row({
        name: 'ext4: list 10,000-entry dir with types (vs debugfs ls -l)',
        ours: list.ms,
        theirs: theirsList.ms,
        unit: 'ms',
        better: 'lower',
        note: 'target < 300 ms absolute; debugfs also stats each entry',
      }),
      row({
        name: 'ext4: read 50 MiB file (vs debugfs dump, raw FS)',
        ours: read.ms,
        theirs: theirsRead.ms,
        unit: 'ms',
        better: 'lower',
        target: 1.5,
        note: 'ours through qcow2, to a host file',
      }),
      row({
        name: 'ext4: owner() index, 10,000 files',
        ours: indexMs,
        theirs: NaN,
        unit: 'ms',
        better: 'lower',
        note: `then ${(perLookupMs * 1000).toFixed(1)} µs per lookup (target < 1 ms)`,
      }),
    ];
  } finally {
    await dev.close();
  }
}
