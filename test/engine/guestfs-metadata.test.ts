/**
 * Where the guest file systems keep their metadata (GuestDisk.metadataRanges, the map's metadata marks) against
 * e2fsprogs: every block dumpe2fs names (superblocks, group descriptors, reserved GDT, bitmaps, inode tables) and
 * every journal block (`debugfs blocks <8>`) lies inside a range, and no block of a regular file does; a FAT16's
 * range ends where minfo puts the data area; an NTFS's covers its boot sector and $MFT (ntfsinfo -m).
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { GuestDisk } from '../../src/extension/guestfs/guest-disk';
import { debugfs, makeDisk, makeExt, makeTree, toQcow2 } from '../helpers/guestfs-fixtures';
import { makeFat, makeSourceTree } from '../helpers/fat-fixtures';
import { mkntfs } from '../helpers/ntfs-fixtures';
import { scratchDir } from '../helpers/qemu';

/** Block numbers dumpe2fs lists as metadata: "at N" and "at A-B" after superblock, descriptors, bitmaps, tables. */
function dumpe2fsMetadataBlocks(img: string): number[] {
  const out = execFileSync('dumpe2fs', [img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const blocks: number[] = [];
  const re = /(?:superblock|Group descriptors|Reserved GDT blocks|Block bitmap|Inode bitmap|Inode table) at (\d+)(?:-(\d+))?/g;
  for (const m of out.matchAll(re)) {
    const a = Number(m[1]);
    const b = m[2] ? Number(m[2]) : a;
    for (let x = a; x <= b; x++) blocks.push(x);
  }
  return blocks;
}

describe('guestfs: file-system metadata ranges vs dumpe2fs and debugfs', function () {
  this.timeout(120_000);
  const tmp = scratchDir('q2i-guestfs-meta-');
  after(() => tmp.cleanup());

  for (const [name, options] of [
    ['ext4 4 KiB, 64bit, flex_bg', ['-b', '4096', '-O', '64bit']],
    ['ext4 1 KiB, meta_bg', ['-b', '1024', '-g', '1024', '-O', 'meta_bg,^resize_inode,64bit']],
  ] as const) {
    it(`${name}: every metadata block dumpe2fs and the journal list is covered; file data is not`, async () => {
      const src = tmp.path(`tree-${options[1]}`);
      mkdirSync(src, { recursive: true });
      makeTree(src, { seed: 5, bigBytes: 512 * 1024 });
      const fs = makeExt(tmp.path(`fs-${options[1]}.img`), src, 'ext4', 24, [...options]);
      const [part] = makeDisk(tmp.path(`disk-${options[1]}.raw`), 'gpt', [fs]);
      const image = toQcow2(tmp.path(`disk-${options[1]}.raw`), tmp.path(`disk-${options[1]}.qcow2`), 'plain');
      const bs = Number(options[1]);
      const disk = await GuestDisk.open(image);
      try {
        const { ranges, errors } = await disk.metadataRanges();
        assert.deepEqual(errors, []);
        const covered = (block: number): boolean => {
          const at = part.start + block * bs;
          return ranges.some((r) => at >= r.offset && at + bs <= r.offset + r.length);
        };
        const meta = dumpe2fsMetadataBlocks(fs);
        assert.ok(meta.length > 10, 'dumpe2fs listed the groups');
        const journal = debugfs(fs, 'blocks <8>').trim().split(/\s+/).map(Number);
        assert.ok(journal.length >= 1024, 'a journal');
        for (const b of [...meta, ...journal]) assert.ok(covered(b), `block ${b} is metadata`);
        for (const file of ['/data/big.bin', '/etc/hosts', '/etc/medium.txt']) {
          for (const b of debugfs(fs, `blocks ${file}`).trim().split(/\s+/).map(Number)) assert.ok(!covered(b), `${file} block ${b} is data`);
        }
      } finally {
        await disk.close();
      }
    });
  }

  it('FAT16: one range from the boot sector to the data area, as minfo gives reserved sectors, FATs and root slots', async () => {
    const tree = tmp.path('fat-tree');
    mkdirSync(tree);
    makeSourceTree(tree, { bigFile: 100_000 });
    const fat = makeFat(tmp.path('fat16.img'), 16, 20, tree);
    const [part] = makeDisk(tmp.path('fat-disk.raw'), 'mbr', [fat], 'e');
    const info = execFileSync('minfo', ['-i', fat, '::'], { encoding: 'utf8' });
    const num = (re: RegExp): number => Number(re.exec(info)![1]);
    const sector = num(/sector size: (\d+)/);
    const dataStart =
      (num(/reserved \(boot\) sectors: (\d+)/) + num(/fats: (\d+)/) * num(/sectors per fat: (\d+)/)) * sector + num(/root directory slots: (\d+)/) * 32;
    const disk = await GuestDisk.open(toQcow2(tmp.path('fat-disk.raw'), tmp.path('fat-disk.qcow2'), 'plain'));
    try {
      assert.deepEqual(await disk.metadataRanges(), { ranges: [{ offset: part.start, length: dataStart }], errors: [] });
    } finally {
      await disk.close();
    }
  });

  it("NTFS: the boot sectors and $MFT's first cluster (ntfsinfo -m) are covered", async () => {
    const img = tmp.path('ntfs.img');
    mkntfs(img, 16);
    const info = execFileSync('ntfsinfo', ['-m', img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const cluster = Number(/Cluster Size: (\d+)/.exec(info)![1]);
    const mftLcn = Number(/LCN of Data Attribute for FILE_MFT: (\d+)/.exec(info)![1]);
    const [part] = makeDisk(tmp.path('ntfs-disk.raw'), 'gpt', [img]);
    const disk = await GuestDisk.open(toQcow2(tmp.path('ntfs-disk.raw'), tmp.path('ntfs-disk.qcow2'), 'plain'));
    try {
      const { ranges, errors } = await disk.metadataRanges();
      assert.deepEqual(errors, []);
      const covered = (at: number): boolean => ranges.some((r) => at >= r.offset && at < r.offset + r.length);
      assert.ok(covered(part.start), 'boot sector');
      assert.ok(covered(part.start + mftLcn * cluster), '$MFT');
      assert.ok(covered(part.start + mftLcn * cluster + 16 * 1024 - 1), 'the system records 0-15');
    } finally {
      await disk.close();
    }
  });
});
