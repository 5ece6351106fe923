/**
 * Detection of what each partition holds, checked against `blkid -p` on images made by the real tools (mke2fs,
 * mkfs.vfat for FAT12/16/32, mkntfs, mkswap), and by signature for the kinds with no tool installed here (exFAT,
 * XFS, btrfs, ISO9660, LUKS, md RAID, BitLocker, LVM2 PV): their magic numbers are written into empty partitions.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { openImage } from '../../src/qcow2/index';
import { detectDisk, diskDevice } from '../../src/guestfs/index';
import { makeDisk, makeExt, makeTree, toQcow2 } from '../helpers/guestfs-fixtures';
import { scratchDir } from '../helpers/qemu';

const MiB = 1024 * 1024;

/** blkid's TYPE (and VERSION for FAT) of a file, as our type names spell them. */
function blkidType(img: string): string {
  const out = execFileSync('blkid', ['-p', '-o', 'export', img], { encoding: 'utf8' });
  const get = (k: string): string | undefined => new RegExp(`^${k}=(.*)$`, 'm').exec(out)?.[1];
  const type = get('TYPE')!;
  return type === 'vfat' ? get('VERSION')!.toLowerCase() : type;
}

describe('guestfs: what each partition holds', function () {
  this.timeout(120_000);
  const tmp = scratchDir('q2i-guestfs-detect-');
  after(() => tmp.cleanup());

  it('matches blkid for file systems made by the real tools, and finds the signature-only kinds', async () => {
    const src = tmp.path('tree');
    mkdirSync(src);
    makeTree(src, { seed: 3, bigBytes: 1000 });
    const images: string[] = [];
    const tool = (name: string, mib: number, cmd: string[]): string => {
      const img = tmp.path(name);
      execFileSync('truncate', ['-s', `${mib}M`, img]);
      const r = spawnSync(cmd[0], [...cmd.slice(1), img], { stdio: 'pipe' });
      assert.equal(r.status, 0, `${cmd.join(' ')}: ${r.stderr}`);
      return img;
    };
    images.push(makeExt(tmp.path('e4.img'), src, 'ext4', 8));
    images.push(makeExt(tmp.path('e3.img'), src, 'ext3', 8));
    images.push(makeExt(tmp.path('e2.img'), src, 'ext2', 4));
    images.push(tool('f12.img', 4, ['mkfs.vfat', '-F', '12', '-n', 'SMALL']));
    images.push(tool('f16.img', 32, ['mkfs.vfat', '-F', '16']));
    images.push(tool('f32.img', 64, ['mkfs.vfat', '-F', '32', '-s', '1', '-n', 'BIGFAT']));
    images.push(tool('ntfs.img', 16, ['mkntfs', '-q', '-F', '--fast', '-L', 'win']));
    images.push(tool('swap.img', 4, ['mkswap', '-L', 'sw']));
    const real = images.length;
    const magic: [string, number, string | number[]][] = [
      ['exfat', 3, 'EXFAT   '],
      ['xfs', 0, 'XFSB'],
      ['btrfs', 0x10040, '_BHRfS_M'],
      ['iso9660', 0x8001, 'CD001'],
      ['luks', 0, [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]],
      ['linux_raid_member', 4096, [0xfc, 0x4e, 0x2b, 0xa9]],
      ['bitlocker', 3, '-FVE-FS-'],
      ['lvm2_pv', 512, 'LABELONE\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0LVM2 001'],
    ];
    for (const [name, at, bytes] of magic) {
      const buf = Buffer.alloc(MiB);
      if (typeof bytes === 'string') buf.write(bytes, at, 'latin1');
      else Buffer.from(bytes).copy(buf, at);
      if (name === 'exfat' || name === 'bitlocker') buf.writeUInt16LE(0xaa55, 510);
      writeFileSync(tmp.path(`${name}.img`), buf);
      images.push(tmp.path(`${name}.img`));
    }
    const raw = tmp.path('disk.raw');
    makeDisk(raw, 'gpt', images);
    const dev = await openImage(toQcow2(raw, tmp.path('disk.qcow2'), 'plain'), { readOnly: true });
    try {
      const layout = await detectDisk(diskDevice(dev));
      const found = layout.volumes.map((v) => v.content.type);
      assert.deepEqual(found.slice(0, real), images.slice(0, real).map(blkidType));
      assert.deepEqual(
        found.slice(real),
        magic.map((m) => m[0]),
      );
      const label = (i: number): string | undefined => layout.volumes[i].content.label;
      assert.deepEqual([label(3), label(5), label(7)], ['SMALL', 'BIGFAT', 'sw']);
    } finally {
      await dev.close();
    }
  });
});
