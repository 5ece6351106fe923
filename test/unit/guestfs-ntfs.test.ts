/**
 * The NTFS reader against ntfs-3g's tools: a volume made by mkntfs --fast, filled through an ntfs-3g mount and
 * ntfscp; listings compared with ntfsls -l, contents with ntfscat (plain, sparse, fragmented, LZNT1-compressed,
 * alternate streams, attribute lists), extents with ntfsinfo's runlist; read raw, inside a partition of a qcow2
 * (plain and compressed) through the engine; hostile records give one-line errors fast.
 */
import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { openNtfs, type NtfsFs } from '../../src/guestfs/ntfs/index';
import { lznt1Decompress } from '../../src/guestfs/ntfs/lznt1';
import type { GuestFs, ReadOnlyDevice } from '../../src/guestfs/types';
import { qemuImg, scratchDir } from '../helpers/qemu';
import { seededBytes, sh } from '../helpers/fat-fixtures';
import {
  COMPRESSIBLE,
  fillCompressed,
  fillFragmented,
  fillStandardTree,
  mkntfs,
  ntfscat,
  ntfscp,
  ntfsinfoRuns,
  ntfsls,
  withNtfsMount,
} from '../helpers/ntfs-fixtures';
import { qcow2Device, rawDevice, type TestDevice } from '../helpers/guest-device';

const mem = (b: Uint8Array): ReadOnlyDevice => ({ size: b.length, diskOffset: 0, readAt: async (buf, at) => buf.set(b.subarray(at, at + buf.length)) });

describe('guestfs NTFS reader vs ntfs-3g tools', function () {
  const tmp = scratchDir('q2i-ntfs-');
  const image = tmp.path('ntfs.img');
  const bigHost = tmp.path('big.bin');
  let raw: TestDevice;
  let fs: GuestFs;
  const files = [
    '/notes.txt',
    '/Docs/link to notes.txt',
    '/Docs/Überraschung.txt',
    '/Docs/Nested Deeper/Third/deep.bin',
    '/sparse.bin',
    '/fragmented.bin',
    '/big.bin',
    '/comp/text.txt',
    '/comp/mixed.bin',
    '/links/target.txt',
    '/empty.dat',
    '/many/Entry 01099 of many.txt',
  ];

  before(function () {
    mkntfs(image, 24);
    withNtfsMount(image, tmp.path('mnt'), (root) => fillFragmented(root));
    withNtfsMount(image, tmp.path('mnt'), (root) => fillStandardTree(root));
    withNtfsMount(image, tmp.path('mnt'), (root) => fillCompressed(root), true);
    writeFileSync(bigHost, seededBytes(3 * 1024 * 1024 + 123, 9));
    ntfscp(image, bigHost, '/big.bin');
    ntfscp(image, bigHost, '/empty.dat', 'via-ntfscp');
  });
  const digest = () => createHash('sha256').update(readFileSync(image)).digest('hex');
  let pristine: { sha: string; mtime: number };
  before(async () => {
    pristine = { sha: digest(), mtime: statSync(image).mtimeMs };
    raw = rawDevice(image);
    fs = await openNtfs(raw.dev);
  });
  after(async () => {
    await raw?.close();
    const unchanged = digest() === pristine.sha && statSync(image).mtimeMs === pristine.mtime;
    tmp.cleanup();
    assert.ok(unchanged, 'the NTFS image changed while it was browsed');
  });

  it('browsing never writes: the image bytes and mtime are unchanged after every test (checked in the after hook)', () => {
    assert.equal(digest(), pristine.sha);
  });

  it('reads the volume: label, serial, cluster size, clean', () => {
    assert.equal(fs.info.type, 'ntfs');
    assert.equal(fs.info.label, 'NtfsTest');
    assert.equal(fs.info.blockSize, 4096);
    assert.equal(fs.info.clean, true);
    assert.match(fs.info.uuid, /^[0-9A-F]{16}$/);
  });

  it('lists every directory as ntfsls -l -a does (names, sizes; 1,100 entries through $INDEX_ALLOCATION; hard links once per name)', async () => {
    for (const dir of ['/', '/Docs', '/Docs/Nested Deeper', '/comp', '/links', '/many']) {
      const ours = (await fs.list(dir)).map((e) => ({ name: e.name, size: e.type === 'dir' ? 0 : e.size! }));
      const theirs = ntfsls(image, dir).filter((e) => e.name !== '.' && e.name !== '..');
      const key = (x: { name: string }) => x.name;
      assert.deepEqual(
        [...ours].sort((a, b) => (key(a) < key(b) ? -1 : 1)),
        [...theirs].sort((a, b) => (key(a) < key(b) ? -1 : 1)),
        dir,
      );
    }
    assert.equal((await fs.list('/many')).length, 1100);
    assert.equal((await fs.list('/links')).length, 25);
    assert.equal((await fs.stat('/links/target.txt')).links, 25);
  });

  it('reads contents as ntfscat does: resident, fragmented, sparse, compressed, attribute list, ntfscp-written', async () => {
    for (const p of files) {
      const st = await fs.stat(p);
      const theirs = ntfscat(image, p);
      assert.equal(st.size, theirs.length, p);
      assert.ok(Buffer.from(await fs.read(p, 0, st.size + 100)).equals(theirs), p);
    }
    assert.ok(Buffer.from(await fs.read('/comp/text.txt', 0, 1 << 20)).equals(COMPRESSIBLE));
    assert.ok(Buffer.from(await fs.read('/big.bin', 0, 1 << 30)).equals(readFileSync(bigHost)));
    // Odd offsets across compression units and sparse holes.
    assert.ok(Buffer.from(await fs.read('/comp/text.txt', 65530, 70_000)).equals(COMPRESSIBLE.subarray(65530, 135530)));
    const sparse = ntfscat(image, '/sparse.bin');
    assert.ok(Buffer.from(await fs.read('/sparse.bin', (1 << 20) - 10, 5000)).equals(sparse.subarray((1 << 20) - 10, (1 << 20) + 4990)));
  });

  it('stat: attributes (compressed, sparse), times, alternate data streams readable as path:stream', async () => {
    assert.ok((await fs.stat('/comp/text.txt')).attributes!.includes('compressed'));
    assert.ok((await fs.stat('/sparse.bin')).attributes!.includes('sparse'));
    const notes = await fs.stat('/notes.txt');
    assert.deepEqual([...notes.streams!].sort(), ['other', 'secret']);
    assert.ok(notes.mtime && Math.abs(notes.mtime.getTime() - Date.now()) < 3600_000);
    assert.equal(notes.links, 2);
    for (const s of ['secret', 'other']) assert.ok(Buffer.from(await fs.read(`/notes.txt:${s}`, 0, 1 << 20)).equals(ntfscat(image, '/notes.txt', s)), s);
    assert.ok(Buffer.from(await fs.read('/empty.dat:via-ntfscp', 0, 1 << 30)).equals(readFileSync(bigHost)));
    assert.equal((await fs.stat('/Docs')).type, 'dir');
    // ntfs-3g writes symlinks as Interix system files.
    assert.deepEqual(await fs.stat('/Docs/symlink to notes').then((st) => [st.type, st.target]), ['symlink', '../notes.txt']);
    assert.equal((await fs.stat('/Docs/absolute symlink')).target, '/an/absolute/target');
    assert.deepEqual(
      (await fs.list('/Docs'))
        .filter((e) => e.type === 'symlink')
        .map((e) => e.name)
        .sort(),
      ['absolute symlink', 'symlink to notes'],
    );
    assert.equal((await fs.stat('/notes.txt')).target, undefined);
    await assert.rejects(fs.stat('/nope'), /no such file/);
    await assert.rejects(fs.read('/Docs', 0, 1), /is a directory/);
    await assert.rejects(fs.read('/notes.txt:nostream', 0, 1), /no stream/);
  });

  it('extents match ntfsinfo -v data runs (fragmented, sparse, compressed); owner() names the file and the MFT', async () => {
    for (const p of ['/fragmented.bin', '/sparse.bin', '/big.bin', '/comp/text.txt']) {
      const runs = ntfsinfoRuns(image, p).filter((r) => r[1] >= 0);
      const ext = await fs.extents(p);
      const merged: number[][] = [];
      for (const [vcn, lcn, len] of runs) {
        const last = merged[merged.length - 1];
        if (last && last[0] + last[2] === vcn && last[1] + last[2] === lcn) last[2] += len;
        else merged.push([vcn, lcn, len]);
      }
      assert.equal(ext.length, merged.length, p);
      ext.forEach((e, i) => {
        assert.equal(e.logical, merged[i][0] * 4096, p);
        assert.equal(e.diskOffset, merged[i][1] * 4096, p);
      });
    }
    assert.ok(ntfsinfoRuns(image, '/fragmented.bin').length > 20, 'the fixture is fragmented');
    const ext = await fs.extents('/fragmented.bin');
    const last = ext[ext.length - 1];
    assert.deepEqual(await fs.owner(last.diskOffset + 5), { kind: 'file', path: '/fragmented.bin', logical: last.logical + 5 });
    assert.deepEqual(await fs.owner(0), { kind: 'metadata', what: 'boot sector' });
    const notesId = (await fs.stat('/notes.txt')).id;
    const mftRecord = ((await fs.extents('/notes.txt'))[0].diskOffset >> 10) << 10;
    assert.deepEqual(await fs.owner(mftRecord), { kind: 'metadata', what: `$MFT (record ${notesId})` });
    const manyDir = await fs.extents('/many');
    assert.equal((await fs.owner(manyDir[0].diskOffset)).kind, 'dir');
    assert.deepEqual(await fs.owner(fs.info.size - 4096 * 3), { kind: 'free' });
  });

  for (const compressed of [false, true]) {
    it(`reads the same from a partition of a ${compressed ? 'compressed ' : ''}qcow2 through the engine`, async () => {
      const disk = tmp.path('disk.img');
      sh('truncate', ['-s', '26M', disk]);
      sh('sh', ['-c', `echo 'start=2048, type=7' | sfdisk -q "${disk}" && dd if="${image}" of="${disk}" bs=1M seek=1 conv=notrunc status=none`]);
      const q = tmp.path(`disk${compressed ? '-c' : ''}.qcow2`);
      qemuImg(['convert', '-O', 'qcow2', ...(compressed ? ['-c'] : []), disk, q]);
      const d = await qcow2Device(q, 1 << 20, 24 << 20);
      try {
        const qfs = await openNtfs(d.dev);
        for (const p of ['/comp/mixed.bin', '/fragmented.bin', '/notes.txt:secret']) {
          assert.ok(Buffer.from(await qfs.read(p, 0, 1 << 30)).equals(Buffer.from(await fs.read(p, 0, 1 << 30))), p);
        }
        const e = await qfs.extents('/big.bin');
        assert.equal(e[0].diskOffset, (await fs.extents('/big.bin'))[0].diskOffset + (1 << 20));
      } finally {
        await d.close();
      }
    });
  }

  describe('hostile volumes', function () {
    let base: Buffer;
    before(() => {
      base = readFileSync(image);
    });
    async function fastError(run: () => Promise<unknown>, re: RegExp): Promise<void> {
      const t0 = Date.now();
      await assert.rejects(run, (err: Error) => {
        assert.equal(err.name, 'GuestFsError', err.stack);
        assert.match(err.message, re);
        assert.doesNotMatch(err.message, /\n/);
        return true;
      });
      assert.ok(Date.now() - t0 < 2000, `took ${Date.now() - t0} ms`);
    }
    /** Device offset of a file's MFT record. */
    async function recordOf(path: string): Promise<number> {
      return (fs as NtfsFs).mft.recordDeviceOffset((await fs.stat(path)).id)!;
    }

    it('the dirty flag of $Volume makes clean false', async () => {
      const b = Buffer.from(base);
      const vol = Number(base.readBigUInt64LE(48)) * 4096 + 3 * 1024;
      let off = vol + b.readUInt16LE(vol + 20);
      while (b.readUInt32LE(off) !== 0x70) off += b.readUInt32LE(off + 4);
      b[off + b.readUInt16LE(off + 20) + 10] |= 1;
      const dirty = await openNtfs(mem(b));
      assert.equal(dirty.info.clean, false);
    });

    it('a torn MFT record (bad update sequence) is an error', async () => {
      const b = Buffer.from(base);
      const rec = await recordOf('/notes.txt');
      b[rec + 510] ^= 0xff;
      await fastError(async () => (await openNtfs(mem(b))).stat('/notes.txt'), /torn write/);
    });

    it('an extension record that names itself as its base (not the file its attribute list belongs to) is refused', async () => {
      const b = Buffer.from(base);
      const id = (await fs.stat('/links/target.txt')).id;
      const ext = (fs as NtfsFs).mft.recordDeviceOffset(id + 1)!;
      assert.equal(b.readUInt32LE(ext + 32), id, 'the fixture has the attribute list spill into the next record');
      b.writeUInt32LE(id + 1, ext + 32);
      await fastError(async () => (await openNtfs(mem(b))).stat('/links/target.txt'), /belongs to record/);
    });

    it('a directory entry pointing at its own directory is a loop', async () => {
      const b = Buffer.from(base);
      // Rewrite the reference of "Nested Deeper" in /Docs's index root to /Docs itself.
      const docs = (await fs.stat('/Docs')).id;
      const nested = (await fs.stat('/Docs/Nested Deeper')).id;
      // The entry lives in the index root (in the record) or, once /Docs outgrew it, in an index node.
      const ranges = [[await recordOf('/Docs'), 1024], ...(await fs.extents('/Docs')).map((e) => [e.diskOffset, e.length])];
      let patched = false;
      for (const [at, len] of ranges)
        for (let o = at; o < at + len - 24; o += 8) {
          if (b.readUInt32LE(o) === nested && b.readUInt16LE(o + 4) === 0 && b.readUInt16LE(o + 8) > 0x50 && b.readUInt32LE(o + 16) === docs) {
            b.writeUInt32LE(docs, o);
            patched = true;
          }
        }
      assert.ok(patched);
      const f = await openNtfs(mem(b));
      await fastError(() => f.list('/Docs/Nested Deeper'), /own ancestor/);
    });

    it('a runlist past the end of the attribute, and a run past the volume, are errors', async () => {
      const b = Buffer.from(base);
      const rec = await recordOf('/big.bin');
      let off = rec + b.readUInt16LE(rec + 20);
      while (b.readUInt32LE(off) !== 0x80) off += b.readUInt32LE(off + 4);
      b.writeUInt32LE(1, off + 24); // last VCN 1: the runs claim far more
      await fastError(async () => (await openNtfs(mem(b))).read('/big.bin', 0, 10), /runs past the attribute's last VCN/);
      const c = Buffer.from(base);
      const runs = off + c.readUInt16LE(off + 32);
      const hdr = c[runs];
      const lenBytes = hdr & 15;
      const offBytes = hdr >> 4;
      c[runs + lenBytes + offBytes] = 0x7f; // the first run's LCN becomes huge
      await fastError(async () => (await openNtfs(mem(c))).read('/big.bin', 0, 10), /past the end of the volume/);
    });

    it('an index 100 levels deep (a node whose child is itself) is an error', async () => {
      const b = Buffer.from(base);
      const dir = await fs.extents('/many'); // the $INDEX_ALLOCATION of /many
      const node = dir[0].diskOffset;
      assert.equal(b.toString('latin1', node, node + 4), 'INDX');
      // Make the node's first entry point at this very node as its child (its name's tail makes room for the VCN).
      const hdr = node + 24;
      const e = hdr + b.readUInt32LE(hdr);
      b.writeUInt16LE(b.readUInt16LE(e + 12) | 1, e + 12);
      b.copy(b, e + b.readUInt16LE(e + 8) - 8, node + 16, node + 24);
      await fastError(async () => (await openNtfs(mem(b))).list('/many'), /visited twice|deeper than/);
    });

    it("an index chained 40+ nodes deep (each node's first entry points at the next) hits the depth bound", async () => {
      const b = Buffer.from(base);
      const nodes: number[] = [];
      for (const e of await fs.extents('/many'))
        for (let o = e.diskOffset; o < e.diskOffset + e.length; o += 4096) if (b.toString('latin1', o, o + 4) === 'INDX') nodes.push(o);
      assert.ok(nodes.length > 33, `${nodes.length} index nodes`);
      const pointFirstEntryAt = (entry: number, vcn: Buffer): void => {
        b.writeUInt16LE(b.readUInt16LE(entry + 12) | 1, entry + 12);
        vcn.copy(b, entry + b.readUInt16LE(entry + 8) - 8);
      };
      for (let i = 0; i + 1 < nodes.length; i++)
        pointFirstEntryAt(nodes[i] + 24 + b.readUInt32LE(nodes[i] + 24), b.subarray(nodes[i + 1] + 16, nodes[i + 1] + 24));
      // The root's first entry leads to the first node of the chain.
      const rec = await recordOf('/many');
      let off = rec + b.readUInt16LE(rec + 20);
      while (b.readUInt32LE(off) !== 0x90) off += b.readUInt32LE(off + 4);
      const header = off + b.readUInt16LE(off + 20) + 16;
      pointFirstEntryAt(header + b.readUInt32LE(header), Buffer.from(b.subarray(nodes[0] + 16, nodes[0] + 24)));
      await fastError(async () => (await openNtfs(mem(b))).list('/many'), /deeper than 32 levels/);
    });

    it('random corruption of the MFT never hangs or throws anything but a one-line GuestFsError', async () => {
      const mft0 = Number(base.readBigUInt64LE(48)) * 4096;
      const rand = seededBytes(8192, 31);
      for (let round = 0; round < 40; round++) {
        const b = Buffer.from(base);
        for (let k = 0; k < 24; k++)
          b[mft0 + (((rand[(round * 48 + k * 2) % 8192] << 8) | rand[(round * 48 + k * 2 + 1) % 8192]) % (100 * 1024))] ^= rand[(round + k) % 8192] | 1;
        try {
          const f = await openNtfs(mem(b));
          for (const d of ['/', '/Docs', '/many', '/comp']) await f.list(d).catch((e: Error) => assert.equal(e.name, 'GuestFsError', e.stack));
          for (const p of files) await f.read(p, 0, 1 << 20).catch((e: Error) => assert.equal(e.name, 'GuestFsError', e.stack));
        } catch (e) {
          assert.equal((e as Error).name, 'GuestFsError', (e as Error).stack);
          assert.doesNotMatch((e as Error).message, /\n/);
        }
      }
    });
  });

  it('LZNT1: a stored chunk, a back-reference, and a reference before the chunk', () => {
    const out = new Uint8Array(4096);
    // Stored chunk: header (size-3 = 2, bit 15 clear, signature 0x3000), 3 bytes.
    assert.equal(lznt1Decompress(Uint8Array.from([0x02, 0x30, 1, 2, 3]), out, 't'), 3);
    // Compressed: 'ab' then back-reference (offset 2, length 6) -> 'abababab'.
    const n = lznt1Decompress(Uint8Array.from([0x04, 0xb0, 0x04, 0x61, 0x62, 0x03, 0x10]), out, 't');
    assert.equal(Buffer.from(out.subarray(0, n)).toString(), 'abababab');
    assert.throws(() => lznt1Decompress(Uint8Array.from([0x02, 0xb0, 0x01, 0x00, 0x00]), out, 't'), /before the chunk/);
  });
});
