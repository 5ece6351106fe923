/**
 * The ext2/3/4 reader against e2fsprogs: file systems made with `mke2fs -d` (4 KiB and 1 KiB blocks, 64-bit and
 * 32-bit, htree, inline data, ext3 and ext2 with indirect maps) in GPT and MBR disks, read through qcow2 images
 * (plain, compressed, top of a backing chain). Listings and stat match `debugfs ls -l`, contents match `dump`,
 * extents match `blocks`, owner() names the file at each extent; browsing never changes the images.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { openImage, type Qcow2Dev } from '../../src/qcow2/index';
import { detectDisk, diskDevice, findVolume, openFs, type GuestFs } from '../../src/guestfs/index';
import {
  indexDirectories,
  debugfs,
  debugfsBlocks,
  debugfsDump,
  debugfsLs,
  makeDisk,
  makeExt,
  makeTree,
  toQcow2,
  type PlacedPart,
  type QcowVariant,
} from '../helpers/guestfs-fixtures';
import { scratchDir, sha256File } from '../helpers/qemu';

interface FsFixture {
  name: string;
  type: 'ext2' | 'ext3' | 'ext4';
  blockSize: number;
  options: string[];
}

const FIXTURES: FsFixture[] = [
  { name: 'ext4-4k-64bit-htree', type: 'ext4', blockSize: 4096, options: ['-b', '4096', '-O', '64bit,metadata_csum', '-L', 'root4k'] },
  { name: 'ext4-1k', type: 'ext4', blockSize: 1024, options: ['-b', '1024', '-L', 'one-k'] },
  { name: 'ext4-inline', type: 'ext4', blockSize: 4096, options: ['-b', '4096', '-O', 'inline_data', '-I', '256'] },
  { name: 'ext4-32bit', type: 'ext4', blockSize: 4096, options: ['-b', '4096', '-O', '^64bit,^metadata_csum'] },
  { name: 'ext3-1k-indirect', type: 'ext3', blockSize: 1024, options: ['-b', '1024'] },
  { name: 'ext2-2k-indirect', type: 'ext2', blockSize: 2048, options: ['-b', '2048'] },
  { name: 'ext4-1k-meta_bg', type: 'ext4', blockSize: 1024, options: ['-b', '1024', '-g', '1024', '-O', 'meta_bg,^resize_inode,64bit'] },
];

describe('guestfs: ext2/3/4 reader vs debugfs', function () {
  this.timeout(300_000);
  const tmp = scratchDir('q2i-guestfs-ext-');
  after(() => tmp.cleanup());
  const fsImages: string[] = [];
  let parts: PlacedPart[] = [];
  const qcows = new Map<QcowVariant, string>();
  const hashesBefore = new Map<string, { sha: string; mtime: number }>();
  const dumpCache = new Map<string, Buffer>();

  before(() => {
    const src = tmp.path('tree');
    mkdirSync(src);
    makeTree(src, { seed: 13, manyEntries: 3000 });
    for (const f of FIXTURES) fsImages.push(makeExt(tmp.path(`${f.name}.img`), src, f.type, 40, f.options));
    for (const i of [0, 1, 4]) indexDirectories(fsImages[i]);
    const raw = tmp.path('disk.raw');
    parts = makeDisk(raw, 'gpt', fsImages);
    for (const v of ['plain', 'compressed', 'backing'] as QcowVariant[]) qcows.set(v, toQcow2(raw, tmp.path(`disk-${v}.qcow2`), v));
    for (const f of filesOfImages()) hashesBefore.set(f, { sha: sha256File(f), mtime: statSync(f).mtimeMs });
  });

  function filesOfImages(): string[] {
    return [...qcows.values()].flatMap((q) =>
      [q, `${q}.base.qcow2`].filter((p) => {
        try {
          return statSync(p).isFile();
        } catch {
          return false;
        }
      }),
    );
  }

  async function withFs(variant: QcowVariant, partNumber: number, fn: (fs: GuestFs, dev: Qcow2Dev) => Promise<void>): Promise<void> {
    const dev = await openImage(qcows.get(variant)!, { readOnly: true });
    try {
      const layout = await detectDisk(diskDevice(dev));
      const vol = findVolume(layout, String(partNumber));
      await fn(await openFs(vol.device, vol.content.type), dev);
    } finally {
      await dev.close();
    }
  }

  it('detects the GPT partitions and what each holds, with label, UUID and block size', async () => {
    const dev = await openImage(qcows.get('plain')!, { readOnly: true });
    try {
      const layout = await detectDisk(diskDevice(dev));
      assert.equal(layout.table.scheme, 'gpt');
      assert.deepEqual(
        layout.volumes.map((v) => [v.id, v.device.diskOffset, v.content.type]),
        parts.map((p, i) => [String(p.number), p.start, FIXTURES[i].type]),
      );
      for (const [i, v] of layout.volumes.entries()) {
        const fs = await openFs(v.device, v.content.type);
        const uuid = /Filesystem UUID:\s+(\S+)/.exec(debugfs(fsImages[i], 'stats'))![1];
        assert.equal(fs.info.uuid, uuid);
        assert.equal(fs.info.blockSize, FIXTURES[i].blockSize);
        assert.equal(fs.info.type, FIXTURES[i].type);
        assert.equal(fs.info.clean, true);
        assert.deepEqual(fs.info.warnings, []);
      }
      assert.equal((await openFs(layout.volumes[0].device, 'ext4')).info.label, 'root4k');
    } finally {
      await dev.close();
    }
  });

  for (const variant of ['plain', 'compressed', 'backing'] as QcowVariant[]) {
    for (const [i, fx] of FIXTURES.entries()) {
      it(`${variant} qcow2, ${fx.name}: every listing, stat, content and extent matches debugfs`, async () => {
        const img = fsImages[i];
        const part = parts[i];
        await withFs(variant, part.number, async (fs) => {
          const dirs = ['/'];
          let files = 0;
          while (dirs.length) {
            const dir = dirs.pop()!;
            const ours = await fs.list(dir);
            const ref = debugfsLs(img, dir);
            assert.deepEqual(ours.map((e) => [e.name, e.id]).sort(), ref.map((e) => [e.name, e.ino]).sort(), `listing of ${dir}`);
            if (dir === '/many') {
              assert.equal(ours.length, 3000);
              continue;
            }
            for (const r of ref) {
              const path = dir === '/' ? `/${r.name}` : `${dir}/${r.name}`;
              const st = await fs.stat(path);
              assert.deepEqual([st.id, st.mode, st.uid, st.gid, st.size], [r.ino, r.mode, r.uid, r.gid, r.size], `stat of ${path}`);
              assert.equal(ours.find((e) => e.name === r.name)!.type, st.type);
              if (st.type === 'dir') dirs.push(path);
              if (st.type === 'symlink') assert.equal(st.target, readlinkOf(img, path));
              if (st.type !== 'file') continue;
              files++;
              const key = `${img}:${path}`;
              if (!dumpCache.has(key)) dumpCache.set(key, debugfsDump(img, path, tmp.path('dump.out')));
              const data = await fs.read(path, 0, st.size + 10);
              let ref = dumpCache.get(key)!;
              // debugfs dumps an inline file's whole inline area (60 bytes and more), not just i_size bytes.
              if (fx.name === 'ext4-inline' && ref.length > st.size && st.size <= 60) ref = ref.subarray(0, st.size);
              assert.ok(Buffer.from(data).equals(ref), `contents of ${path}`);
              await checkExtents(fs, img, part, fx.blockSize, path, st.size);
            }
          }
          assert.ok(files >= 25, `${files} files compared`);
        });
      });
    }
  }

  function readlinkOf(img: string, path: string): string {
    const out = debugfs(img, `stat "${path}"`);
    const fast = /Fast link dest:\s+"(.*)"/.exec(out);
    if (fast) return fast[1];
    return readFileSync(dumpTo(img, path)).toString();
  }

  function dumpTo(img: string, path: string): string {
    const out = tmp.path('link.out');
    debugfs(img, `dump "${path}" ${out}`);
    return out;
  }

  async function checkExtents(fs: GuestFs, img: string, part: PlacedPart, bs: number, path: string, size: number): Promise<void> {
    const extents = await fs.extents(path);
    const inline = /Size of inline data:\s+(\d+)/.exec(debugfs(img, `stat "${path}"`));
    if (inline || size === 0) {
      if (size === 0) return assert.deepEqual(extents, []);
      // Inline data lies in the inode itself: i_block is 0x28 bytes into it.
      const m = /located at block (\d+), offset 0x([0-9a-f]+)/.exec(debugfs(img, `imap "${path}"`))!;
      assert.equal(extents[0].diskOffset, part.start + Number(m[1]) * bs + parseInt(m[2], 16) + 0x28, `inline extent of ${path}`);
      assert.equal(
        extents.reduce((n, e) => n + e.length, 0),
        size,
      );
      return;
    }
    const blocks: number[] = [];
    let logical = 0;
    for (const e of extents) {
      assert.equal(e.logical, logical, `${path}: extents in order without holes`);
      assert.equal((e.diskOffset - part.start) % bs, 0);
      for (let b = 0; b < Math.ceil(e.length / bs); b++) blocks.push((e.diskOffset - part.start) / bs + b);
      logical += e.length;
    }
    assert.equal(logical, size);
    assert.deepEqual(blocks, debugfsBlocks(img, path), `blocks of ${path}`);
  }

  it('owner() names the file and logical offset at its extents, metadata at the superblock, and free space', async () => {
    for (const [i, part] of parts.entries()) {
      await withFs('backing', part.number, async (fs) => {
        for (const path of ['/data/big.bin', '/data/f3.bin', '/etc/hosts']) {
          const ext = await fs.extents(path);
          const last = ext[ext.length - 1];
          const inline = /Size of inline data/.test(debugfs(fsImages[i], `stat "${path}"`));
          const o = await fs.owner(last.diskOffset - part.start + 3);
          if (inline) assert.equal(o.kind, 'metadata', `${path} lies in the inode table`);
          else assert.deepEqual(o, { kind: 'file', path, logical: last.logical + 3 });
        }
        assert.equal((await fs.owner(1024 + 5)).kind, 'metadata');
        const free = /Free blocks found: (\d+)/.exec(debugfs(fsImages[i], 'ffb 1 4000'));
        if (free) assert.deepEqual(await fs.owner(Number(free[1]) * FIXTURES[i].blockSize), { kind: 'free' });
        const t = performance.now();
        for (let k = 0; k < 1000; k++) await fs.owner(Math.floor((k / 1000) * 40 * 1024 * 1024));
        assert.ok(performance.now() - t < 1000, 'owner lookups after indexing are under 1 ms each');
      });
    }
  });

  it('owner() of every block agrees with the block bitmaps dumpe2fs shows, and every used block has an owner', async () => {
    for (const [i, part] of parts.entries()) {
      const free = new Set<number>();
      for (const m of execFileSync('dumpe2fs', [fsImages[i]], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).matchAll(/^\s+Free blocks: (.*)$/gm)) {
        for (const range of m[1]
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean)) {
          const [a, b] = range.split('-').map(Number);
          for (let k = a; k <= (b ?? a); k++) free.add(k);
        }
      }
      await withFs('plain', part.number, async (fs) => {
        const bs = FIXTURES[i].blockSize;
        const blocks = fs.info.size / bs;
        const wrong: string[] = [];
        for (let b = 0; b < blocks && wrong.length < 5; b++) {
          const o = await fs.owner(b * bs);
          if ((o.kind === 'free') !== free.has(b) || (o.kind === 'metadata' && /not reached/.test(o.what)))
            wrong.push(`block ${b}: ${JSON.stringify(o)}, dumpe2fs ${free.has(b) ? 'free' : 'used'}`);
        }
        assert.deepEqual(wrong, [], FIXTURES[i].name);
      });
    }
  });

  it('follows symlinks in the middle of a path, and reads a symlink as its target', async () => {
    await withFs('plain', 1, async (fs) => {
      assert.equal(new TextDecoder().decode(await fs.read('/fast-link', 0, 100)), '127.0.0.1 localhost\n::1 localhost ip6-localhost\n');
      assert.deepEqual(
        (await fs.list('/data/dirlink')).map((e) => e.name),
        ['deeper'],
      );
      assert.equal((await fs.stat('/data/dirlink/deeper/note.txt')).size, 5);
      assert.equal((await fs.stat('/data/dirlink')).type, 'symlink');
      assert.equal((await fs.stat('/data/../etc/./hosts')).type, 'file');
      await assert.rejects(fs.stat('/etc/hosts/x'), /not a directory/);
      await assert.rejects(fs.stat('/nope'), /\/nope: no such file or directory/);
      await assert.rejects(fs.read('/data', 0, 1), /is a directory/);
    });
  });

  it('reads any range of a file: partial, across extents, past the end', async () => {
    const whole = dumpCache.get(`${fsImages[1]}:/data/big.bin`) ?? debugfsDump(fsImages[1], '/data/big.bin', tmp.path('b.out'));
    await withFs('compressed', 2, async (fs) => {
      for (const [off, len] of [
        [0, 1],
        [1023, 2],
        [4095, 70000],
        [whole.length - 5, 100],
        [whole.length, 10],
        [777777, 1 << 20],
      ]) {
        const got = await fs.read('/data/big.bin', off, len);
        assert.ok(Buffer.from(got).equals(whole.subarray(off, off + len)), `range ${off} +${len}`);
      }
    });
  });

  it('the htree directory really is indexed, and lists with types fast', async () => {
    assert.match(debugfs(fsImages[0], 'stat /many'), /Flags: 0x[0-9a-f]*1[0-9a-f]{3}\b/);
    await withFs('plain', 1, async (fs) => {
      const t = performance.now();
      const entries = await fs.list('/many');
      const ms = performance.now() - t;
      assert.equal(entries.length, 3000);
      assert.ok(entries.every((e) => e.type === 'file'));
      assert.ok(ms < 300, `${ms} ms`);
    });
  });

  it('browsing every fixture left every image file byte-for-byte and mtime unchanged', () => {
    for (const [f, before] of hashesBefore) {
      assert.equal(sha256File(f), before.sha, f);
      assert.equal(statSync(f).mtimeMs, before.mtime, f);
    }
    assert.ok(hashesBefore.size >= 4);
  });
});

describe('guestfs: detection without a partition table, in MBR disks, and with needs_recovery', function () {
  this.timeout(120_000);
  const tmp = scratchDir('q2i-guestfs-detect-');
  after(() => tmp.cleanup());

  it('a file system on the whole disk, and ext2/ext4 in an MBR disk', async () => {
    const src = tmp.path('tree');
    mkdirSync(src);
    makeTree(src, { seed: 5 });
    const whole = makeExt(tmp.path('whole.img'), src, 'ext4', 24, ['-L', 'whole']);
    const q = toQcow2(whole, tmp.path('whole.qcow2'), 'plain');
    let dev = await openImage(q, { readOnly: true });
    try {
      const layout = await detectDisk(diskDevice(dev));
      assert.equal(layout.table.scheme, 'none');
      assert.deepEqual(
        layout.volumes.map((v) => [v.id, v.kind, v.content.type, v.content.label]),
        [['', 'disk', 'ext4', 'whole']],
      );
      const fs = await openFs(findVolume(layout, '').device, 'ext4');
      assert.equal((await fs.list('/etc')).length, 4);
    } finally {
      await dev.close();
    }
    const e2 = makeExt(tmp.path('e2.img'), src, 'ext2', 16);
    const raw = tmp.path('mbr.raw');
    const parts = makeDisk(raw, 'mbr', [e2, whole]);
    dev = await openImage(toQcow2(raw, tmp.path('mbr.qcow2'), 'compressed'), { readOnly: true });
    try {
      const layout = await detectDisk(diskDevice(dev));
      assert.equal(layout.table.scheme, 'mbr');
      assert.deepEqual(
        layout.volumes.map((v) => [v.id, v.device.diskOffset, v.content.type]),
        [
          ['1', parts[0].start, 'ext2'],
          ['2', parts[1].start, 'ext4'],
        ],
      );
      const fs = await openFs(findVolume(layout, '1').device, 'ext2');
      assert.equal(new TextDecoder().decode(await fs.read('/data/nested/deeper/note.txt', 0, 99)), 'deep\n');
      assert.throws(() => findVolume(layout, ''), /name one as N:\/path/);
      assert.throws(() => findVolume(layout, '7'), /no partition or logical volume '7'/);
    } finally {
      await dev.close();
    }
  });

  it('needs_recovery set gives a warning and clean: false', async () => {
    const img = makeExt(tmp.path('rec.img'), tmp.path('tree'), 'ext4', 16);
    debugfs(img, 'stats'); // readable before
    const buf = readFileSync(img);
    buf.writeUInt32LE(buf.readUInt32LE(1024 + 0x60) | 0x4, 1024 + 0x60);
    const { bufferDevice, openExt } = await import('../../src/guestfs/index');
    const fs = await openExt(bufferDevice(buf));
    assert.equal(fs.info.clean, false);
    assert.match(fs.info.warnings.join('\n'), /needs_recovery is set: the journal was not replayed/);
    assert.equal((await fs.list('/')).length > 0, true);
  });
});
