/**
 * LVM2: a GPT disk whose partition is a PV (pvcreate/vgcreate/lvcreate on a loop device, activation off), with an
 * ext4 in a two-segment LV and an ext2 in another. The LVs are found from the PV label and metadata text, and the
 * readers read them as block devices; extents point at the right guest-disk bytes across the segment jump.
 */
import { strict as assert } from 'node:assert';
import { closeSync, mkdirSync, openSync, readSync } from 'node:fs';
import { openImage } from '../../src/qcow2/index';
import { detectDisk, diskDevice, findVolume, openFs } from '../../src/guestfs/index';
import { debugfsDump, debugfsLs, makeExt, makeLvm, makeTree, toQcow2, writeIntoLv, type LvmLayout } from '../helpers/guestfs-fixtures';
import { cli, scratchDir } from '../helpers/qemu';
import { execFileSync } from 'node:child_process';

const MiB = 1024 * 1024;

describe('guestfs: LVM2 logical volumes', function () {
  this.timeout(120_000);
  const tmp = scratchDir('q2i-guestfs-lvm-');
  after(() => tmp.cleanup());
  let raw = '';
  let qcow = '';
  let rootImg = '';
  let otherImg = '';
  let layout: LvmLayout;

  before(() => {
    const src = tmp.path('tree');
    mkdirSync(src);
    makeTree(src, { seed: 21, bigBytes: 9 * MiB });
    rootImg = makeExt(tmp.path('root.img'), src, 'ext4', 16, ['-b', '1024', '-L', 'lvroot']);
    const small = tmp.path('small');
    mkdirSync(small);
    makeTree(small, { seed: 22, bigBytes: 1000 });
    otherImg = makeExt(tmp.path('other.img'), small, 'ext2', 8);
    raw = tmp.path('disk.raw');
    execFileSync('truncate', ['-s', String(64 * MiB), raw]);
    execFileSync('sfdisk', ['-q', raw], { input: 'label: gpt\n,,E6D6D379-F507-44C2-A23C-238F2A3DF928\n' });
    layout = makeLvm(
      raw,
      MiB,
      62 * MiB,
      [
        { name: 'root', mib: 8 },
        { name: 'other', mib: 8 },
      ],
      [{ name: 'root', mib: 8 }],
    );
    writeIntoLv(raw, MiB, layout, 'root', rootImg);
    writeIntoLv(raw, MiB, layout, 'other', otherImg);
    qcow = toQcow2(raw, tmp.path('disk.qcow2'), 'compressed');
  });

  it('finds the PV and both LVs; root spans two segments', async () => {
    assert.equal(layout.lvs.get('root')!.length, 2);
    const dev = await openImage(qcow, { readOnly: true });
    try {
      const disk = await detectDisk(diskDevice(dev));
      assert.deepEqual(
        disk.volumes.map((v) => [v.id, v.kind, v.content.type]),
        [
          ['1', 'partition', 'lvm2_pv'],
          ['root', 'lv', 'ext4'],
          ['other', 'lv', 'ext2'],
        ],
      );
      const root = findVolume(disk, 'vg/root');
      assert.equal(root.device.size, 16 * MiB);
      assert.equal(root.device.diskOffset, MiB + layout.peStart);
      const fs = await openFs(root.device, 'ext4');
      assert.equal(fs.info.label, 'lvroot');
      for (const dir of ['/', '/etc', '/data']) {
        assert.deepEqual(
          (await fs.list(dir)).map((e) => [e.name, e.id]).sort(),
          debugfsLs(rootImg, dir)
            .map((e) => [e.name, e.ino])
            .sort(),
        );
      }
      const big = debugfsDump(rootImg, '/data/big.bin', tmp.path('big.out'));
      assert.ok(Buffer.from(await fs.read('/data/big.bin', 0, big.length)).equals(big));
      // Every extent names the guest-disk bytes that hold the file, including those past the segment jump.
      const extents = await fs.extents('/data/big.bin');
      const fd = openSync(raw, 'r');
      try {
        const seg2 = MiB + layout.peStart + layout.lvs.get('root')![1][0] * MiB;
        assert.ok(
          extents.some((e) => e.diskOffset >= seg2),
          'some extent lies in the second segment',
        );
        for (const e of extents) {
          const buf = Buffer.alloc(e.length);
          readSync(fd, buf, 0, e.length, e.diskOffset);
          assert.ok(buf.equals(big.subarray(e.logical, e.logical + e.length)), `extent at logical ${e.logical}`);
        }
      } finally {
        closeSync(fd);
      }
      const other = await openFs(findVolume(disk, 'other').device, 'ext2');
      assert.equal(new TextDecoder().decode(await other.read('/etc/hosts', 0, 9)), '127.0.0.1');
    } finally {
      await dev.close();
    }
  });

  it('the CLI lists the LVs and reads files and owners in them by LV name', async () => {
    const list = await cli(['fs', 'list', '--output=json', qcow]);
    assert.equal(list.code, 0, list.stderr);
    const vols = JSON.parse(list.stdout.toString()).volumes;
    assert.deepEqual(
      vols.map((v: { id: string; vg?: string; type: string; label?: string }) => [v.id, v.vg, v.type, v.label]),
      [
        ['1', undefined, 'lvm2_pv', undefined],
        ['root', 'vg', 'ext4', 'lvroot'],
        ['other', 'vg', 'ext2', ''],
      ],
    );
    const cat = await cli(['fs', 'cat', qcow, 'root:/etc/hosts']);
    assert.equal(cat.code, 0, cat.stderr);
    assert.equal(cat.stdout.toString(), '127.0.0.1 localhost\n::1 localhost ip6-localhost\n');
    const st = JSON.parse((await cli(['fs', 'stat', '--output=json', qcow, 'root:/data/big.bin'])).stdout.toString());
    const last = st.extents[st.extents.length - 1];
    const owner = JSON.parse((await cli(['fs', 'owner', '--output=json', qcow, String(last['guest-offset'] + 7)])).stdout.toString());
    assert.deepEqual([owner.volume, owner.owner], ['root', { kind: 'file', path: '/data/big.bin', logical: last.logical + 7 }]);
  });
});
