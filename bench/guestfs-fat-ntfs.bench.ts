/**
 * Guest file systems, FAT32 and NTFS (issue #13): list a 10,000-entry directory with types and sizes (target
 * < 300 ms; shown beside mdir -a / ntfsls -l, which include their process start), and read a 50 MiB NTFS file
 * beside ntfscat (target <= 1.5x). Raw images, warm page cache; each of ours is a fresh reader (no directory cache).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openFat } from '../src/guestfs/fat/index';
import { openNtfs } from '../src/guestfs/ntfs/index';
import { rawDevice } from '../test/helpers/guest-device';
import { sh, seededBytes } from '../test/helpers/fat-fixtures';
import { mkntfs, ntfscp, withNtfsMount } from '../test/helpers/ntfs-fixtures';
import { row, timeAsync, timeCommand, type BenchContext, type BenchRow } from './lib';
import { mkdirSync } from 'node:fs';

const ENTRIES = 10_000;

export default async function (ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const env = { ...process.env, TZ: 'UTC', MTOOLS_SKIP_CHECK: '1' };

  ctx.log('FAT32 with a 10,000-entry directory');
  const fat = join(ctx.tmp, 'fat32.img');
  const src = join(ctx.tmp, 'many');
  mkdirSync(src);
  for (let i = 0; i < ENTRIES; i++) writeFileSync(join(src, `e${10000 + i}.txt`), `${i}\n`);
  sh('truncate', ['-s', '128M', fat]);
  sh('mkfs.vfat', ['-F', '32', '-s', '1', fat]); // 512-byte clusters: mtools refuses a FAT32 under 65,525 clusters
  sh('bash', ['-c', `mcopy -s -Q -i "${fat}" "${src}" ::/`]);
  const fatDev = rawDevice(fat);
  const fatList = await timeAsync(async () => {
    const n = (await (await openFat(fatDev.dev)).list('/many')).length;
    if (n !== ENTRIES) throw new Error(`FAT listed ${n}`);
  });
  await fatDev.close();
  const mdir = timeCommand('mdir', ['-a', '-i', fat, '::/many'], { env });
  rows.push(
    row({
      name: 'FAT32: list 10,000 entries (vs mdir -a)',
      ours: fatList.ms,
      theirs: mdir.ms,
      unit: 'ms',
      better: 'lower',
      note: `target < 300 ms: ${fatList.ms < 300 ? 'pass' : 'FAIL'}`,
    }),
  );

  ctx.log('NTFS with a 10,000-entry directory and a 50 MiB file');
  const ntfs = join(ctx.tmp, 'ntfs.img');
  mkntfs(ntfs, 160);
  withNtfsMount(ntfs, join(ctx.tmp, 'mnt'), (root) => {
    mkdirSync(join(root, 'many'));
    for (let i = 0; i < ENTRIES; i++) writeFileSync(join(root, `many/Entry number ${i}.txt`), `${i}\n`);
  });
  const big = join(ctx.tmp, 'big.bin');
  writeFileSync(big, seededBytes(50 * 1024 * 1024, 5));
  ntfscp(ntfs, big, '/big.bin');
  const ntfsDev = rawDevice(ntfs);
  const ntfsList = await timeAsync(async () => {
    const n = (await (await openNtfs(ntfsDev.dev)).list('/many')).length;
    if (n !== ENTRIES) throw new Error(`NTFS listed ${n}`);
  });
  const ntfsls = timeCommand('ntfsls', ['-l', '-p', '/many', ntfs]);
  rows.push(
    row({
      name: 'NTFS: list 10,000 entries (vs ntfsls -l)',
      ours: ntfsList.ms,
      theirs: ntfsls.ms,
      unit: 'ms',
      better: 'lower',
      note: `target < 300 ms: ${ntfsList.ms < 300 ? 'pass' : 'FAIL'}`,
    }),
  );

  const read = await timeAsync(async () => {
    const fs = await openNtfs(ntfsDev.dev);
    const size = (await fs.stat('/big.bin')).size;
    for (let at = 0; at < size; at += 4 << 20) await fs.read('/big.bin', at, 4 << 20);
  });
  await ntfsDev.close();
  const cat = timeCommand('sh', ['-c', `ntfscat "${ntfs}" /big.bin > /dev/null`]);
  rows.push(row({ name: 'NTFS: read a 50 MiB file (vs ntfscat)', ours: read.ms, theirs: cat.ms, unit: 'ms', better: 'lower', target: 1.5 }));
  return rows;
}
