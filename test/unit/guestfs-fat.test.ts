/**
 * The FAT reader against mtools: FAT12, FAT16 (inside an MBR partition) and FAT32 made by mkfs.vfat and filled by
 * mcopy; listings compared with mdir -a -/, contents with mcopy out, read raw and through qcow2 (plain and
 * compressed) via the engine.
 */
import assert from 'node:assert/strict';
import { copyFileSync, readFileSync } from 'node:fs';
import { openFat } from '../../src/guestfs/fat/index';
import type { GuestFs, ReadOnlyDevice } from '../../src/guestfs/types';
import { qemuImg, scratchDir } from '../helpers/qemu';
import { makeFat, makeSourceTree, mcopyOut, mdirAll, sh, seededBytes } from '../helpers/fat-fixtures';
import { qcow2Device, rawDevice, type TestDevice } from '../helpers/guest-device';

async function walk(fs: GuestFs, dir = '/', out: { path: string; dir: boolean; size: number }[] = []): Promise<typeof out> {
  for (const e of await fs.list(dir)) {
    const path = dir === '/' ? `/${e.name}` : `${dir}/${e.name}`;
    out.push({ path, dir: e.type === 'dir', size: e.size ?? -1 });
    if (e.type === 'dir') await walk(fs, path, out);
  }
  return out;
}

const sortByPath = <T extends { path: string }>(a: T[]): T[] => [...a].sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));

describe('guestfs FAT reader vs mtools', function () {
  const tmp = scratchDir('q2i-fat-');
  const tree = tmp.path('tree');
  const cases: { name: string; bits: 12 | 16 | 32; sizeMiB: number; offsetSectors: number; image: string; target: string; spc?: number }[] = [
    { name: 'FAT12', bits: 12, sizeMiB: 8, offsetSectors: 0, image: tmp.path('fat12.img'), target: '', spc: 4 },
    { name: 'FAT16 in an MBR partition at 1 MiB', bits: 16, sizeMiB: 40, offsetSectors: 2048, image: tmp.path('fat16.img'), target: '' },
    { name: 'FAT32', bits: 32, sizeMiB: 80, offsetSectors: 0, image: tmp.path('fat32.img'), target: '', spc: 1 },
  ];

  before(function () {
    makeSourceTree(tree, { bigDirEntries: 1100 });
    for (const c of cases) {
      if (c.offsetSectors > 0) {
        sh('truncate', ['-s', `${c.sizeMiB}M`, c.image]);
        sh('sh', ['-c', `echo 'start=${c.offsetSectors}, type=0e' | sfdisk -q "${c.image}"`]);
      }
      c.target = makeFat(c.image, c.bits, c.sizeMiB, tree, { offsetSectors: c.offsetSectors, sectorsPerCluster: c.spc });
    }
  });
  after(() => tmp.cleanup());

  for (const c of cases) {
    describe(c.name, function () {
      let raw: TestDevice;
      let fs: GuestFs;
      before(async () => {
        raw = rawDevice(c.image, c.offsetSectors * 512);
        fs = await openFat(raw.dev);
      });
      after(() => raw.close());

      it('reads the boot sector: type, label, serial, clean', () => {
        assert.equal(fs.info.type, `fat${c.bits}`);
        assert.equal(fs.info.label, `FAT${c.bits}TEST`);
        assert.equal(fs.info.uuid, '1234-ABCD');
        assert.equal(fs.info.clean, true);
        assert.deepEqual(fs.info.warnings, []);
      });

      it('lists every path, kind and size as mdir -a -/ does (long names, 8.3 case flags, 1,100-entry directory)', async () => {
        const ours = sortByPath(await walk(fs));
        const theirs = sortByPath(mdirAll(c.target));
        assert.equal(ours.length, theirs.length);
        assert.deepEqual(ours, theirs);
        const names = new Set(ours.map((e) => e.path));
        for (const p of [
          '/notes.txt',
          '/README.TXT',
          '/MixedCase.Md',
          '/A rather long file name with spaces.text',
          '/Docs/Überraschung.txt',
          '/Docs/Nested Deeper/Third/deep.bin',
        ]) {
          assert.ok(names.has(p), p);
        }
        assert.equal((await fs.list('/many')).length, 1100);
      });

      it('reads contents as mcopy does (3 MiB file, nested, empty), at odd offsets too', async () => {
        for (const p of ['/big.bin', '/Docs/Nested Deeper/Third/deep.bin', '/notes.txt', '/lower/empty.dat', '/many/e11099.txt', '/many/Long Entry 1075.txt']) {
          const st = await fs.stat(p);
          const theirs = mcopyOut(c.target, p);
          assert.equal(st.size, theirs.length, p);
          assert.deepEqual(Buffer.from(await fs.read(p, 0, st.size + 10)), theirs, p);
        }
        const big = readFileSync(`${tree}/big.bin`);
        assert.deepEqual(Buffer.from(await fs.read('/big.bin', 1_000_003, 70_001)), big.subarray(1_000_003, 1_070_004));
        assert.equal((await fs.read('/big.bin', big.length, 10)).length, 0);
      });

      it('looks names up case-insensitively, by long or short name', async () => {
        assert.equal((await fs.stat('/NOTES.TXT')).size, (await fs.stat('/notes.txt')).size);
        assert.equal((await fs.stat('/docs/nested deeper/THIRD/DEEP.BIN')).size, 5000);
        await assert.rejects(fs.stat('/nope'), /no such file/);
        await assert.rejects(fs.list('/notes.txt'), /not a directory/);
        await assert.rejects(fs.read('/Docs', 0, 1), /is a directory/);
      });

      it('stat gives times and attributes; directories are dirs', async () => {
        const st = await fs.stat('/notes.txt');
        assert.equal(st.type, 'file');
        assert.ok(st.mtime && Math.abs(st.mtime.getTime() - Date.now()) < 3600_000, String(st.mtime));
        assert.ok(st.crtime);
        assert.ok(st.attributes?.includes('archive'));
        assert.equal((await fs.stat('/Docs')).type, 'dir');
        assert.equal((await fs.stat('/')).type, 'dir');
      });

      it('extents cover the file and read back the same bytes from the disk; owner() names the file', async () => {
        const ext = await fs.extents('/big.bin');
        assert.equal(
          ext.reduce((n, e) => n + e.length, 0),
          3 * 1024 * 1024,
        );
        const disk = readFileSync(c.image);
        const big = readFileSync(`${tree}/big.bin`);
        for (const e of ext) assert.deepEqual(disk.subarray(e.diskOffset, e.diskOffset + e.length), big.subarray(e.logical, e.logical + e.length));
        const mid = ext[ext.length - 1];
        const devOff = mid.diskOffset - c.offsetSectors * 512 + 17;
        assert.deepEqual(await fs.owner(devOff), { kind: 'file', path: '/big.bin', logical: mid.logical + 17 });
        const dirExt = await fs.extents('/many');
        assert.equal((await fs.owner(dirExt[0].diskOffset - c.offsetSectors * 512)).kind, 'dir');
        assert.deepEqual(await fs.owner(0), { kind: 'metadata', what: 'boot sector' });
        const reserved = readFileSync(c.image).readUInt16LE(c.offsetSectors * 512 + 14) * 512;
        assert.deepEqual(await fs.owner(reserved + 8), { kind: 'metadata', what: 'FAT' });
        if (c.bits !== 32) {
          const boot = readFileSync(c.image).subarray(c.offsetSectors * 512);
          const rootDir = reserved + boot[16] * boot.readUInt16LE(22) * 512;
          assert.deepEqual(await fs.owner(rootDir + 40), { kind: 'metadata', what: 'root directory' });
          assert.deepEqual(await fs.extents('/'), [{ logical: 0, diskOffset: c.offsetSectors * 512 + rootDir, length: boot.readUInt16LE(17) * 32 }]);
        }
        // The last cluster of a mostly empty volume is free.
        assert.deepEqual(await fs.owner(fs.info.size - 1), { kind: 'free' });
      });

      for (const compressed of [false, true]) {
        it(`reads the same through a ${compressed ? 'compressed ' : ''}qcow2 with the engine`, async () => {
          const q = tmp.path(`${c.bits}${compressed ? '-c' : ''}.qcow2`);
          qemuImg(['convert', '-O', 'qcow2', ...(compressed ? ['-c'] : []), c.image, q]);
          const qd = await qcow2Device(q, c.offsetSectors * 512);
          try {
            const qfs = await openFat(qd.dev);
            assert.deepEqual(sortByPath(await walk(qfs)), sortByPath(await walk(fs)));
            assert.deepEqual(Buffer.from(await qfs.read('/big.bin', 0, 1 << 30)), readFileSync(`${tree}/big.bin`));
          } finally {
            await qd.close();
          }
        });
      }
    });
  }

  describe('flags and hostile volumes', function () {
    let base: Buffer;
    let fs32: GuestFs;
    before(async () => {
      base = readFileSync(cases[2].image);
      fs32 = await openFat(mem(base));
    });

    const mem = (b: Uint8Array): ReadOnlyDevice => ({ size: b.length, diskOffset: 0, readAt: async (buf, at) => buf.set(b.subarray(at, at + buf.length)) });
    async function fastError(run: () => Promise<unknown>, re: RegExp): Promise<void> {
      const t0 = Date.now();
      await assert.rejects(run, (err: Error) => {
        assert.equal(err.name, 'GuestFsError');
        assert.match(err.message, re);
        assert.doesNotMatch(err.message, /\n/);
        return true;
      });
      assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
    }

    it('the dirty bit in the boot sector makes clean false', async () => {
      const b = Buffer.from(base);
      b[65] |= 1;
      const fs = await openFat(mem(b));
      assert.equal(fs.info.clean, false);
      assert.match(fs.info.warnings.join(' '), /not cleanly unmounted/);
    });

    it('a FAT chain cycle is an error, fast', async () => {
      const b = Buffer.from(base);
      const ext = await fs32.extents('/big.bin');
      const bpb = { reserved: b.readUInt16LE(14) * 512, cs: b[13] * 512 };
      const dataStart = bpb.reserved + b[16] * b.readUInt32LE(36) * 512;
      const first = (ext[0].diskOffset - dataStart) / bpb.cs + 2;
      b.writeUInt32LE(first, bpb.reserved + (first + 5) * 4); // the 6th cluster links back to the 1st
      await fastError(async () => (await openFat(mem(b))).read('/big.bin', 0, 4 << 20), /loops back to cluster/);
      await fastError(async () => (await openFat(mem(b))).extents('/big.bin'), /loops back/);
    });

    it('a cluster count in the billions is clamped to the device, and reading stays bounded', async () => {
      const b = Buffer.from(base);
      b.writeUInt32LE(0xffffffff, 32);
      const fs = await openFat(mem(b));
      assert.match(fs.info.warnings.join(' '), /claims/);
      assert.equal((await fs.list('/many')).length, 1100);
    });

    it('a FAT too large for the volume is refused', async () => {
      const b = Buffer.from(base);
      b.writeUInt32LE(0x7fffffff, 36);
      await fastError(() => openFat(mem(b)), /layout does not fit/);
    });

    it('a directory that contains itself is reported as a loop, and owner() still finishes', async () => {
      const b = Buffer.from(base);
      const docs = (await fs32.list('/')).find((e) => e.name === 'Docs')!;
      const nested = (await fs32.list('/Docs')).find((e) => e.name === 'Nested Deeper')!;
      // Point "Nested Deeper" at its parent's clusters: /Docs/Nested Deeper is /Docs again.
      b.copy(b, nested.id + 20, docs.id + 20, docs.id + 22);
      b.copy(b, nested.id + 26, docs.id + 26, docs.id + 28);
      const fs = await openFat(mem(b));
      await fastError(() => fs.list('/Docs/Nested Deeper'), /loops back to one of its parents/);
      const ext = await fs32.extents('/big.bin');
      assert.equal((await fs.owner(ext[0].diskOffset)).kind, 'file');
    });

    it('a root directory cluster outside the volume, and a zero sector size, are refused', async () => {
      const b = Buffer.from(base);
      b.writeUInt32LE(0x0ffffff0, 44);
      await fastError(() => openFat(mem(b)), /root directory cluster/);
      const z = Buffer.from(base);
      z.writeUInt16LE(0, 11);
      await fastError(() => openFat(mem(z)), /not a FAT file system/);
      await fastError(() => openFat(mem(new Uint8Array(100))), /outside|shorter/);
    });

    it('random corruption of the metadata never hangs or throws anything but a one-line GuestFsError', async function () {
      const meta = 64 * 1024;
      const rand = seededBytes(4096, 99);
      for (let round = 0; round < 40; round++) {
        const b = Buffer.from(base.subarray(0, 8 << 20));
        for (let k = 0; k < 16; k++)
          b[((rand[(round * 32 + k * 2) % 4096] << 8) | rand[(round * 32 + k * 2 + 1) % 4096]) % meta] ^= rand[(round + k) % 4096] | 1;
        try {
          const fs = await openFat(mem(b));
          await walk(fs).catch((e: Error) => assert.equal(e.name, 'GuestFsError', e.message));
          await fs.owner(1 << 20).catch((e: Error) => assert.equal(e.name, 'GuestFsError', e.message));
        } catch (e) {
          assert.equal((e as Error).name, 'GuestFsError', (e as Error).stack);
          assert.doesNotMatch((e as Error).message, /\n/);
        }
      }
    });
  });

  it('the image is never written: sha256 unchanged after browsing', async () => {
    const c = cases[0];
    copyFileSync(c.image, tmp.path('probe.img'));
    const before = readFileSync(tmp.path('probe.img'));
    const d = rawDevice(tmp.path('probe.img'));
    const fs = await openFat(d.dev);
    await walk(fs);
    await fs.owner(70000);
    await d.close();
    assert.deepEqual(readFileSync(tmp.path('probe.img')), before);
  });
});
