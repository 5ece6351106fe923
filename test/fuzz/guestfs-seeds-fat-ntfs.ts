/**
 * Guest file-system seeds for the fuzzer, made at fuzz time: small FAT12, FAT16, FAT32 and NTFS volumes (mkfs.vfat
 * + mcopy, mkntfs + ntfscp), on the whole disk and inside an MBR partition at 1 MiB, converted to compressed
 * qcow2. NTFS's $LogFile and $UpCase are zeroed first (the reader needs neither) so a seed stays under 128 KiB.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openNtfs } from '../../src/guestfs/ntfs/index';
import { qemuImgSync } from './malformed-cases';

function sh(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { env: { ...process.env, TZ: 'UTC' }, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

function fillFat(img: string, work: string): void {
  writeFileSync(join(work, 'small.txt'), 'hello fat\n');
  writeFileSync(join(work, 'two-clusters.bin'), Buffer.alloc(3000, 0x5a));
  sh('mmd', ['-i', img, '::/Sub Dir']);
  sh('mcopy', ['-i', img, join(work, 'small.txt'), '::/Sub Dir/A Long Name.txt']);
  sh('mcopy', ['-i', img, join(work, 'two-clusters.bin'), '::/lower.bin']);
  sh('mcopy', ['-i', img, join(work, 'small.txt'), '::/UPPER.TXT']);
}

async function makeNtfs(img: string, work: string): Promise<void> {
  sh('truncate', ['-s', '2M', img]);
  sh('mkntfs', ['-q', '--fast', '-F', '-L', 'seed', img]);
  writeFileSync(join(work, 'n.txt'), 'hello ntfs\n'.repeat(200));
  sh('ntfscp', ['-q', img, join(work, 'n.txt'), '/file.txt']);
  sh('ntfscp', ['-q', '-N', 'stream', img, join(work, 'n.txt'), '/file.txt']);
  // Zero $LogFile and $UpCase (the reader uses neither) so the compressed seed stays small.
  const bytes = readFileSync(img);
  const fs = await openNtfs({ size: bytes.length, diskOffset: 0, readAt: async (b, at) => b.set(bytes.subarray(at, at + b.length)) });
  for (const sys of ['/$LogFile', '/$UpCase']) for (const e of await fs.extents(sys)) bytes.fill(0, e.diskOffset, e.diskOffset + e.length);
  writeFileSync(img, bytes);
}

/** Writes the seeds as .qcow2 files into `dir`; returns their paths. */
export async function buildFatNtfsSeeds(dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const out: string[] = [];
  const fats: [string, string[], number][] = [
    ['fat12', ['-F', '12'], 1024],
    ['fat16', ['-F', '16', '-s', '1'], 2600],
    ['fat32', ['-F', '32', '-s', '1'], 34000],
  ];
  for (const [name, opts, kib] of fats) {
    const img = join(dir, `${name}.img`);
    sh('mkfs.vfat', ['-C', ...opts, '-n', 'SEED', img, String(kib)]);
    fillFat(img, dir);
    out.push(img);
  }
  const ntfs = join(dir, 'ntfs.img');
  await makeNtfs(ntfs, dir);
  out.push(ntfs);
  // The FAT12 volume again inside an MBR partition at 1 MiB.
  const disk = join(dir, 'mbr-fat12.img');
  sh('truncate', ['-s', '3M', disk]);
  sh('sh', ['-c', `echo 'start=2048, type=1' | sfdisk -q "${disk}" && dd if="${out[0]}" of="${disk}" bs=1M seek=1 conv=notrunc status=none`]);
  out.push(disk);
  return out.map((raw) => {
    const q = raw.replace(/\.img$/, '.qcow2');
    qemuImgSync(['convert', '-c', '-O', 'qcow2', '-o', 'cluster_size=4096', raw, q]);
    return q;
  });
}
