/**
 * The editor side's guest disks without VS Code: image ids and their store, the bounded cache of opened disks that
 * reopens a changed image, volumes by key, symlinks at the end of a path, and the hex inspector's owner line, on a
 * GPT disk holding an ext4 and an ext2 made with mke2fs -d (checked against debugfs).
 */
import * as assert from 'node:assert/strict';
import { mkdirSync, symlinkSync, utimesSync } from 'node:fs';
import { followLinks, GuestDisk } from '../../src/extension/guestfs/guest-disk';
import { imageId, OpenImages } from '../../src/extension/guestfs/open-images';
import { ownerText } from '../../src/extension/guestfs/owner-text';
import { GuestFsError } from '../../src/guestfs/index';
import { debugfs, makeDisk, makeExt, makeTree, toQcow2, type PlacedPart } from '../helpers/guestfs-fixtures';
import { qemuImg, scratchDir } from '../helpers/qemu';

describe('extension: guest disks for the Files tab and qcow2-guest: URIs', function () {
  this.timeout(120_000);
  const tmp = scratchDir('q2i-guest-disks-');
  let image = '';
  let e4 = '';
  let parts: PlacedPart[] = [];
  after(() => tmp.cleanup());

  before(() => {
    const src = tmp.path('tree');
    mkdirSync(src);
    makeTree(src, { seed: 5, bigBytes: 100_000 });
    symlinkSync('loop-b', `${src}/loop-a`);
    symlinkSync('loop-a', `${src}/loop-b`);
    e4 = makeExt(tmp.path('e4.img'), src, 'ext4', 16, ['-b', '4096', '-O', '^inline_data']);
    const e2 = makeExt(tmp.path('e2.img'), src, 'ext2', 8, ['-b', '1024']);
    parts = makeDisk(tmp.path('disk.raw'), 'gpt', [e4, e2]);
    image = toQcow2(tmp.path('disk.raw'), tmp.path('disk.qcow2'), 'plain');
  });

  it('names an image by 12 hex digits of its path, and remembers ids through the store', async () => {
    assert.match(imageId('/vm/a.qcow2'), /^[0-9a-f]{12}$/);
    assert.equal(imageId('C:\\VMs\\a.qcow2'), imageId('C:\\VMs\\a.qcow2'));
    assert.notEqual(imageId('/vm/a.qcow2'), imageId('/vm/b.qcow2'));
    let saved: Record<string, string> | undefined;
    const store = {
      get: () => saved,
      set: (m: Record<string, string>) => {
        saved = m;
      },
    };
    const first = new OpenImages(store);
    const id = first.register('C:\\VMs\\disk.qcow2');
    await first.saved();
    assert.equal(new OpenImages(store).pathOf(id), 'C:\\VMs\\disk.qcow2');
    // An entry whose id is not its path's hash (an edited store) is not trusted.
    saved = { ...saved, deadbeef0000: '/etc/shadow' };
    assert.equal(new OpenImages(store).pathOf('deadbeef0000'), undefined);
  });

  it('lists the volumes by key and opens each file system once', async () => {
    const disk = await GuestDisk.open(image);
    try {
      assert.deepEqual(
        disk.volumes().map((v) => [v.key, v.label, v.type, v.size, v.readable]),
        [
          ['1', 'partition 1', 'ext4', parts[0].size, true],
          ['2', 'partition 2', 'ext2', parts[1].size, true],
        ],
      );
      assert.equal(disk.fs('1'), disk.fs('1'));
      await assert.rejects(
        () => disk.fs('9'),
        (e: unknown) => e instanceof GuestFsError && e.code === 'not-found',
      );
      const fs = await disk.fs('2');
      assert.deepEqual((await fs.list('/etc')).map((e) => e.name).sort(), ['empty', 'hosts', 'medium.txt', 'tiny']);
    } finally {
      await disk.close();
    }
  });

  it('follows symlinks at the end of a path and breaks a loop', async () => {
    const disk = await GuestDisk.open(image);
    try {
      const fs = await disk.fs('1');
      assert.equal(await followLinks(fs, '/fast-link'), '/etc/hosts');
      assert.equal(await followLinks(fs, '/data/dirlink'), '/data/nested');
      assert.equal(await followLinks(fs, '/etc/hosts'), '/etc/hosts');
      await assert.rejects(() => followLinks(fs, '/loop-a'), /too many levels of symbolic links/);
    } finally {
      await disk.close();
    }
  });

  it('says who owns a guest-disk byte: the file at its first block, metadata, free space, outside', async () => {
    const disk = await GuestDisk.open(image);
    try {
      const block = Number(debugfs(e4, 'blocks /etc/hosts').trim().split(/\s+/)[0]);
      const at = parts[0].start + block * 4096;
      const file = { volume: '1', path: '/etc/hosts' };
      assert.deepEqual(ownerText(await disk.ownerAt(at)), { text: '/etc/hosts, offset 0x0', volume: 'partition 1 (ext4)', file });
      assert.deepEqual(ownerText(await disk.ownerAt(at + 5)), { text: '/etc/hosts, offset 0x5', volume: 'partition 1 (ext4)', file });
      assert.equal(ownerText(await disk.ownerAt(0)).text, 'outside any partition');
      const sb = ownerText(await disk.ownerAt(parts[0].start + 1024));
      assert.match(sb.text, /^ext4 .*superblock/);
      // The last block of a mostly empty file system is free.
      assert.equal(ownerText(await disk.ownerAt(parts[0].start + parts[0].size - 4096)).text, 'free space');
    } finally {
      await disk.close();
    }
  });

  it('keeps a disk open while the image is unchanged, reopens it after a change, and keeps at most 4', async () => {
    const images = new OpenImages();
    try {
      const first = await images.disk(image);
      assert.equal(await images.disk(image), first);
      // The same bytes, a new mtime: the image counts as changed.
      const later = new Date(Date.now() + 5000);
      utimesSync(image, later, later);
      const second = await images.disk(image);
      assert.notEqual(second, first);
      const copies = [1, 2, 3, 4].map((i) => {
        const p = tmp.path(`copy${i}.qcow2`);
        qemuImg(['convert', '-q', '-O', 'qcow2', image, p]);
        return p;
      });
      for (const p of copies) await images.disk(p);
      // The least recently used (the first image) was closed: asking again opens it anew.
      assert.notEqual(await images.disk(image), second);
    } finally {
      images.dispose();
    }
  });
});
