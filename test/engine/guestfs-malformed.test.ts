/**
 * Hostile ext file systems: each malformation is patched into a real `mke2fs -d` image and must give a one-line
 * GuestFsError quickly (no hang, no huge allocation), or, for directory cycles, a walk that still ends.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { bufferDevice, GuestFsError, openExt, type GuestFs } from '../../src/guestfs/index';
import { debugfs, makeExt, makeTree, toQcow2, makeDisk } from '../helpers/guestfs-fixtures';
import { cli, scratchDir } from '../helpers/qemu';

const SB = 1024;
const BS = 4096;

describe('guestfs: malformed ext file systems', function () {
  this.timeout(120_000);
  const tmp = scratchDir('q2i-guestfs-bad-');
  after(() => tmp.cleanup());
  let img = '';
  let pristine: Buffer;

  before(() => {
    const src = tmp.path('tree');
    mkdirSync(src);
    makeTree(src, { seed: 7, bigBytes: 200_000 });
    img = makeExt(tmp.path('base.img'), src, 'ext4', 16, ['-b', String(BS)]);
    pristine = readFileSync(img);
  });

  /** Where an inode lies in the image (debugfs imap). */
  function inodeAt(path: string): number {
    const m = /located at block (\d+), offset 0x([0-9a-f]+)/.exec(debugfs(img, `imap "${path}"`))!;
    return Number(m[1]) * BS + parseInt(m[2], 16);
  }

  function inodeNumber(path: string): number {
    return Number(/Inode: (\d+)/.exec(debugfs(img, `stat "${path}"`))![1]);
  }

  function freeBlock(): number {
    return Number(/Free blocks found: (\d+)/.exec(debugfs(img, 'ffb 1 1000'))![1]);
  }

  async function expectOneLineError(patch: (b: Buffer) => void, action: (fs: GuestFs) => Promise<unknown>, reason: RegExp): Promise<void> {
    const buf = Buffer.from(pristine);
    patch(buf);
    const t = performance.now();
    const err = await (async () => action(await openExt(bufferDevice(buf))))().then(
      () => assert.fail('no error'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof GuestFsError, `not a GuestFsError: ${String(err)}`);
    assert.doesNotMatch(err.message, /\n/);
    assert.match(err.message, reason);
    assert.ok(performance.now() - t < 2000, `took ${performance.now() - t} ms`);
  }

  it('a block size of 2^30 bytes', () =>
    expectOneLineError(
      (b) => b.writeUInt32LE(20, SB + 0x18),
      async () => undefined,
      /block size 2\^30 is beyond the 64 KiB maximum/,
    ));

  it('an inode count in the billions', () =>
    expectOneLineError(
      (b) => b.writeUInt32LE(3_000_000_000, SB + 0x00),
      async () => undefined,
      /inode count 3000000000 is not/,
    ));

  it('inodes per group beyond what a bitmap block can hold', () =>
    expectOneLineError(
      (b) => b.writeUInt32LE(0x7fffffff, SB + 0x28),
      async () => undefined,
      /2147483647 inodes per group/,
    ));

  it('a block count far past the end of the device', () =>
    expectOneLineError(
      (b) => b.writeUInt32LE(0xfffffff0, SB + 0x04),
      async () => undefined,
      /do not fit the .*-byte device/,
    ));

  it('an inode table outside the file system', () =>
    expectOneLineError(
      (b) => b.writeUInt32LE(0xffffff00, BS + 8),
      async (fs) => fs.list('/'),
      /inode table at block \d+ is outside/,
    ));

  it('an extent tree of depth 100', () => {
    const at = inodeAt('/data/big.bin') + 0x28;
    return expectOneLineError(
      (b) => b.writeUInt16LE(100, at + 6),
      (fs) => fs.read('/data/big.bin', 0, 10),
      /^\/data\/big\.bin: extent tree depth 100 is beyond the maximum of 5/,
    );
  });

  it('an extent index block that points back at itself', () => {
    const at = inodeAt('/data/big.bin') + 0x28;
    const x = freeBlock();
    return expectOneLineError(
      (b) => {
        // Root: depth 2, one index entry → block x. Block x: depth 1, one index entry → block x again.
        b.writeUInt16LE(0xf30a, at);
        b.writeUInt16LE(1, at + 2);
        b.writeUInt16LE(4, at + 4);
        b.writeUInt16LE(2, at + 6);
        b.writeUInt32LE(0, at + 12);
        b.writeUInt32LE(x, at + 16);
        b.writeUInt16LE(0, at + 20);
        const node = x * BS;
        b.fill(0, node, node + BS);
        b.writeUInt16LE(0xf30a, node);
        b.writeUInt16LE(1, node + 2);
        b.writeUInt16LE(340, node + 4);
        b.writeUInt16LE(1, node + 6);
        b.writeUInt32LE(0, node + 12);
        b.writeUInt32LE(x, node + 16);
      },
      (fs) => fs.extents('/data/big.bin'),
      /extent tree block \d+ is referenced twice \(a loop\)/,
    );
  });

  it('an extent pointing past the end of the file system', () => {
    const at = inodeAt('/data/big.bin') + 0x28;
    return expectOneLineError(
      (b) => b.writeUInt32LE(0x7ffffff0, at + 12 + 8),
      (fs) => fs.read('/data/big.bin', 0, 10),
      /block 2147483632 .* is outside the file system/,
    );
  });

  it('a directory entry with a record length of 0', () => {
    const dirBlock = Number(debugfs(img, 'blocks /etc').trim().split(/\s+/)[0]);
    return expectOneLineError(
      (b) => b.writeUInt16LE(0, dirBlock * BS + 12 + 4),
      (fs) => fs.list('/etc'),
      /^\/etc: directory entry at byte 12 has a bad length \(0\)/,
    );
  });

  it('symlinks that point at each other', () => {
    // /fast-link → "/etc/hosts" becomes "/fast-link" (same length would not fit; write a NUL-free 10-byte target).
    const at = inodeAt('/fast-link');
    return expectOneLineError(
      (b) => {
        b.write('/fast-link', at + 0x28, 'latin1');
        b.writeUInt32LE(10, at + 4);
      },
      (fs) => fs.read('/fast-link', 0, 10),
      /\/fast-link: too many levels of symbolic links/,
    );
  });

  it('a directory cycle: listing, path lookup and the owner index all end', async () => {
    // /data/nested/deeper's entry for note.txt is turned into a directory entry for /data.
    const buf = Buffer.from(pristine);
    const dirBlock = Number(debugfs(img, 'blocks /data/nested/deeper').trim().split(/\s+/)[0]);
    const block = buf.subarray(dirBlock * BS, (dirBlock + 1) * BS);
    const name = block.indexOf('note.txt');
    const entry = name - 8;
    block.writeUInt32LE(inodeNumber('/data'), entry);
    block[entry + 7] = 2;
    const fs = await openExt(bufferDevice(buf));
    const t = performance.now();
    assert.deepEqual(
      (await fs.list('/data/nested/deeper/note.txt/nested')).map((e) => e.name),
      ['deeper'],
    );
    const deep = '/data' + '/nested/deeper/note.txt'.repeat(200);
    assert.equal((await fs.stat(deep)).type, 'dir');
    assert.equal((await fs.owner(2 * 1024 * 1024)).kind.length > 0, true);
    assert.ok(performance.now() - t < 3000);
  });

  it('through the CLI: exit 1 and one line naming the image, the partition and the path', async () => {
    const bad = Buffer.from(pristine);
    bad.writeUInt16LE(100, inodeAt('/data/big.bin') + 0x28 + 6);
    const badImg = tmp.path('bad.img');
    writeFileSync(badImg, bad);
    const q = toQcow2((makeDisk(tmp.path('bad.raw'), 'gpt', [badImg]), tmp.path('bad.raw')), tmp.path('bad.qcow2'), 'plain');
    const r = await cli(['fs', 'cat', q, '1:/data/big.bin']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout.length, 0);
    const lines = r.stderr.split('\n');
    assert.equal(lines.length, 2, r.stderr);
    assert.match(lines[0], new RegExp(`^qcow2-inspector: ${q.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: partition 1: /data/big\\.bin: extent tree depth 100`));
    const sb = Buffer.from(pristine);
    sb.writeUInt32LE(20, SB + 0x18);
    writeFileSync(badImg, sb);
    const q2 = toQcow2((makeDisk(tmp.path('bad2.raw'), 'gpt', [badImg]), tmp.path('bad2.raw')), tmp.path('bad2.qcow2'), 'plain');
    const r2 = await cli(['fs', 'ls', q2, '1:/etc']);
    assert.equal(r2.code, 1);
    assert.match(r2.stderr, /^qcow2-inspector: .*bad2\.qcow2: partition 1: \/etc: ext block size 2\^30 is beyond the 64 KiB maximum\n$/);
  });
});
