/**
 * File systems for the `fs` benchmarks, made at bench time with the real tools: an ext4 (`mke2fs -d`), a FAT32
 * (`mkfs.vfat` + `mcopy`) and an NTFS (`mkntfs --fast`, filled through an ntfs-3g mount and `ntfscp`), each holding
 * a 10,000-entry directory `/many` and a 50 MiB `/big.bin`; placed in the partitions of one GPT disk and converted
 * to qcow2. The raw file systems stay beside it for the reference tools. Also a 10 GiB sparse ext4 with 100,000
 * files, written straight into the partition of a sparse GPT disk (`mke2fs -E offset=`).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { seededBytes } from '../test/helpers/fat-fixtures';
import { mkntfs, ntfscp, withNtfsMount } from '../test/helpers/ntfs-fixtures';
import { MiB, qemuImg } from './lib';

export const ENTRIES = 10_000;
export const BIG_BYTES = 50 * MiB;
const env = { ...process.env, TZ: 'UTC', MTOOLS_SKIP_CHECK: '1' };
const MS_BASIC_DATA = 'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7';

/**
 * A folder for a source tree of many small files: in /dev/shm (tmpfs) when there is one, since creating 100,000
 * files on a busy disk took over two minutes here against 5 s in memory. Removed after `fn`.
 */
function withTree(tmp: string, name: string, fn: (tree: string) => void): void {
  const tree = existsSync('/dev/shm') ? mkdtempSync(join('/dev/shm', `q2i-bench-${name}-`)) : join(tmp, name);
  try {
    fn(tree);
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[], input?: string): void {
  const r = spawnSync(cmd, args, { env, input, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${(r.stderr || String(r.error ?? '')).slice(-400)}`);
}

export interface FsFixture {
  /** 'ext4' | 'FAT32' | 'NTFS' */
  label: string;
  /** The raw file system, for debugfs / mtools / ntfs-3g. */
  raw: string;
  /** Its partition number in the GPT disk. */
  part: number;
}

export interface DiskFixture {
  qcow2: string;
  parts: FsFixture[];
}

/** A GPT disk (sparse) with one partition per image, each copied in with `dd conv=sparse`; then qcow2. */
function gptDisk(tmp: string, images: { raw: string; type: string }[]): string {
  const sizes = images.map((i) => Math.ceil(statSync(i.raw).size / MiB) * MiB);
  const raw = join(tmp, 'disk.raw');
  run('truncate', ['-s', String(sizes.reduce((a, b) => a + b, 0) + 2 * MiB), raw]);
  run('sfdisk', ['-q', raw], 'label: gpt\n' + sizes.map((s, i) => `,${s / 512},${images[i].type}\n`).join(''));
  let at = 1;
  images.forEach((img, i) => {
    run('dd', [`if=${img.raw}`, `of=${raw}`, 'bs=1M', `seek=${at}`, 'conv=notrunc,sparse', 'status=none']);
    at += sizes[i] / MiB;
  });
  const qcow2 = join(tmp, 'disk.qcow2');
  qemuImg('convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, qcow2);
  rmSync(raw);
  return qcow2;
}

/** The three file systems with /many and /big.bin, and the qcow2 of the GPT disk that holds them. */
export function makeFsDisk(tmp: string, log: (m: string) => void): DiskFixture {
  const big = join(tmp, 'big.bin');
  writeFileSync(big, seededBytes(BIG_BYTES, 5));

  log('ext4: 10,000-entry directory and a 50 MiB file (mke2fs -d)');
  const ext = join(tmp, 'ext4.img');
  withTree(tmp, 'ext-tree', (tree) => {
    mkdirSync(join(tree, 'many'));
    for (let i = 0; i < ENTRIES; i++) writeFileSync(join(tree, 'many', `file-${String(i).padStart(5, '0')}.txt`), i % 7 ? '' : `${i}\n`);
    execFileSync('cp', [big, join(tree, 'big.bin')]);
    run('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', '-d', tree, ext, '256M']);
  });

  log('FAT32: the same (mkfs.vfat + mcopy)');
  const fat = join(tmp, 'fat32.img');
  run('truncate', ['-s', '320M', fat]);
  run('mkfs.vfat', ['-F', '32', '-s', '8', '-n', 'BENCH', fat]); // 4 KiB clusters, 81,000 of them
  withTree(tmp, 'fat-tree', (tree) => {
    mkdirSync(join(tree, 'many'));
    // Lower-case 8.3 names: mcopy's search for a free ~N tail makes 10,000 long names take minutes.
    for (let i = 0; i < ENTRIES; i++) writeFileSync(join(tree, 'many', `e${10000 + i}.txt`), i % 7 ? '' : `${i}\n`);
    run('bash', ['-c', `mcopy -s -Q -i "${fat}" "${join(tree, 'many')}" "${big}" ::/`]);
  });

  log('NTFS: the same (mkntfs --fast, ntfs-3g mount, ntfscp)');
  const ntfs = join(tmp, 'ntfs.img');
  mkntfs(ntfs, 160, 'Bench');
  withNtfsMount(ntfs, join(tmp, 'mnt'), (root) => {
    mkdirSync(join(root, 'many'));
    for (let i = 0; i < ENTRIES; i++) writeFileSync(join(root, `many/Entry number ${i}.txt`), i % 7 ? '' : `${i}\n`);
  });
  ntfscp(ntfs, big, '/big.bin');
  rmSync(big);

  log('GPT disk of the three, qemu-img convert to qcow2');
  const qcow2 = gptDisk(tmp, [
    { raw: ext, type: 'L' },
    { raw: fat, type: MS_BASIC_DATA },
    { raw: ntfs, type: MS_BASIC_DATA },
  ]);
  return {
    qcow2,
    parts: [
      { label: 'ext4', raw: ext, part: 1 },
      { label: 'FAT32', raw: fat, part: 2 },
      { label: 'NTFS', raw: ntfs, part: 3 },
    ],
  };
}

export const BIG_FS_FILES = 100_000;

/**
 * A 10 GiB ext4 holding 100,000 files in 100 directories (one in four with 1–8 KiB of data, the rest empty, so the
 * guest data stays near 100 MiB), made by `mke2fs -d -E offset=` inside a sparse GPT disk, then qcow2.
 */
export function makeBigExtDisk(tmp: string, log: (m: string) => void): string {
  log('writing 100,000 files for the 10 GiB ext4');
  const raw = join(tmp, 'big-disk.raw');
  const fsBytes = 10 * 1024 * MiB;
  withTree(tmp, 'big-tree', (tree) => {
    const data = seededBytes(8192, 9);
    for (let d = 0; d < 100; d++) {
      const dir = join(tree, 'usr', `d${String(d).padStart(3, '0')}`);
      mkdirSync(dir, { recursive: true });
      for (let f = 0; f < BIG_FS_FILES / 100; f++) {
        const i = d * 1000 + f;
        writeFileSync(join(dir, `file-${f}`), i % 4 ? '' : data.subarray(0, 1024 + ((i * 37) % 7168)));
      }
    }
    log('mke2fs -d into a 10 GiB partition of a sparse GPT disk');
    run('truncate', ['-s', String(fsBytes + 2 * MiB), raw]);
    run('sfdisk', ['-q', raw], `label: gpt\n,${fsBytes / 512},L\n`);
    run('mke2fs', ['-q', '-F', '-t', 'ext4', '-E', `offset=${MiB}`, '-d', tree, raw, `${fsBytes / 1024}k`]);
  });
  const qcow2 = join(tmp, 'big-disk.qcow2');
  qemuImg('convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, qcow2);
  rmSync(raw);
  return qcow2;
}
