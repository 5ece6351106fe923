/**
 * Fuzz seeds for the guest file-system readers, made at fuzz time: tiny ext2/ext3/ext4 (extents, inline data,
 * htree-free 1 KiB blocks) file systems from `mke2fs -d`, on the whole disk and inside a GPT disk, as qcow2 images
 * with 512-byte clusters (uncompressed, so mutations land on file-system bytes).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const VARIANTS: { name: string; options: string[] }[] = [
  { name: 'ext4', options: ['-t', 'ext4', '-O', '^has_journal'] },
  { name: 'ext4-inline', options: ['-t', 'ext4', '-O', '^has_journal,inline_data', '-I', '256'] },
  { name: 'ext2', options: ['-t', 'ext2'] },
];

/** Writes the seeds into `dir` (as *.qcow2); returns how many were made. */
export function buildGuestFsSeeds(dir: string): number {
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'etc'), { recursive: true });
  mkdirSync(join(tree, 'd/sub'), { recursive: true });
  writeFileSync(join(tree, 'etc/hosts'), '127.0.0.1 localhost\n');
  writeFileSync(join(tree, 'd/f.bin'), Buffer.alloc(3000, 0x5a));
  for (let i = 0; i < 40; i++) writeFileSync(join(tree, `d/e${i}`), i % 3 ? '' : `${i}`);
  symlinkSync('/etc/hosts', join(tree, 'l'));
  symlinkSync('x'.repeat(80), join(tree, 'slow'));
  let n = 0;
  for (const v of VARIANTS) {
    const fs = join(dir, `${v.name}.img`);
    execFileSync('mke2fs', ['-q', '-F', ...v.options, '-b', '1024', '-N', '64', '-d', tree, fs, '200K'], { stdio: 'ignore' });
    execFileSync('qemu-img', ['convert', '-q', '-O', 'qcow2', '-o', 'cluster_size=512', fs, join(dir, `guestfs-${v.name}.qcow2`)]);
    n++;
    if (v.name !== 'ext4') continue;
    // The same file system inside a GPT disk: detection and partition offsets get fuzzed too.
    const disk = join(dir, 'gpt.raw');
    execFileSync('truncate', ['-s', '300K', disk]);
    execFileSync('sfdisk', ['-q', disk], { input: 'label: gpt\nfirst-lba: 34\n34,400,L\n' });
    execFileSync('dd', [`if=${fs}`, `of=${disk}`, 'bs=512', 'seek=34', 'conv=notrunc', 'status=none']);
    execFileSync('qemu-img', ['convert', '-q', '-O', 'qcow2', '-o', 'cluster_size=512', disk, join(dir, 'guestfs-gpt-ext4.qcow2')]);
    n++;
  }
  // Only the qcow2 seeds stay (the tree holds a dangling symlink, and the raw images are not seeds).
  for (const f of ['tree', 'gpt.raw', ...VARIANTS.map((v) => `${v.name}.img`)]) rmSync(join(dir, f), { recursive: true, force: true });
  return n;
}
