/**
 * bitmap --dump against QEMU's own reading of the bitmap: qemu-nbd exports it as a metadata context and nbdinfo
 * --map=qemu:dirty-bitmap:NAME lists its dirty extents. A seeded random write workload by qemu-io (which marks every
 * enabled bitmap) must give exactly the same dirty ranges, at 4 KiB, 64 KiB and 1 MiB granularity.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { cli, qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { nbdDirty } from '../helpers/nbd';
import { prng as rng } from '../helpers/images';

describe('bitmap --dump (vs qemu-nbd + nbdinfo)', function () {
  this.timeout(180_000);
  const s = scratchDir('q2i-bmdump-');
  after(() => s.cleanup());
  const img = s.path('bm.qcow2');
  const haveNbd = spawnSync('nbdinfo', ['--version']).status === 0;

  before(function () {
    if (!haveNbd) throw new Error('nbdinfo is missing (apt-get install libnbd-bin; .ci/run installs it)');
    qemuImg(['create', '-q', '-f', 'qcow2', img, '256M']);
    qemuImg(['bitmap', '--add', '-g', '4k', img, 'g4k']);
    qemuImg(['bitmap', '--add', img, 'g64k']);
    qemuImg(['bitmap', '--add', '-g', '1M', img, 'g1m']);
    qemuImg(['bitmap', '--add', img, 'later']);
    const next = rng(20261203);
    const cmds: string[] = ['write -P 1 0 1', `write -P 2 ${256 * 2 ** 20 - 512} 512`];
    for (let i = 0; i < 60; i++) {
      const off = Math.floor((next() * 255 * 2 ** 20) / 512) * 512;
      const len = (1 + Math.floor(next() * 600)) * 512;
      cmds.push(next() < 0.2 ? `write -z ${off} ${len}` : `write -P ${i & 0xff} ${off} ${len}`);
    }
    qemuIo(img, cmds.slice(0, 40));
    // Writes after a bitmap is disabled are not recorded in it.
    qemuImg(['bitmap', '--disable', img, 'later']);
    qemuIo(img, cmds.slice(40));
  });

  for (const name of ['g4k', 'g64k', 'g1m', 'later']) {
    it(`${name}: the same dirty ranges as nbdinfo reads through qemu-nbd`, async () => {
      const ours = await cli(['bitmap', '--dump', '--output=json', img, name]);
      assert.equal(ours.stderr, '');
      assert.equal(ours.code, 0);
      const theirs = await nbdDirty(img, name, s.path(`${name}.sock`));
      assert.ok(theirs.length > 0);
      assert.deepEqual(JSON.parse(ours.stdout.toString()), theirs);
    });
  }

  it('the human form lists the same ranges in hex, after a header line', async () => {
    const json = JSON.parse((await cli(['bitmap', '--dump', '--output=json', img, 'g64k'])).stdout.toString()) as Array<{ start: number; length: number }>;
    const text = (await cli(['bitmap', '--dump', img, 'g64k'])).stdout.toString().trimEnd().split('\n');
    assert.equal(text[0], "bitmap 'g64k': granularity 65536, enabled");
    assert.deepEqual(
      text.slice(1),
      json.map((r) => `0x${r.start.toString(16)} +0x${r.length.toString(16)}`),
    );
  });

  it('an unknown bitmap, and one left in use by a QEMU that stopped: one line, exit 1', async () => {
    const missing = await cli(['bitmap', '--dump', img, 'nope']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /Dirty bitmap 'nope' not found/);
    assert.equal(missing.stderr.trim().split('\n').length, 1);
    // Mark g64k in use (bit 0 of its flags) in a copy, as a QEMU killed while running leaves it.
    const copy = s.path('inuse.qcow2');
    qemuImg(['convert', '-O', 'qcow2', '--bitmaps', img, copy]);
    const { openImage } = await import('../../src/qcow2');
    const dev = await openImage(copy, { readOnly: true });
    const ext = dev.header.extensions.bitmaps!;
    await dev.close();
    const { openSync, readSync, writeSync, closeSync } = await import('node:fs');
    const fd = openSync(copy, 'r+');
    const dir = Buffer.alloc(ext.directorySize);
    readSync(fd, dir, 0, dir.length, ext.directoryOffset);
    let pos = 0;
    for (let i = 0; i < ext.nbBitmaps; i++) {
      const nameLen = dir.readUInt16BE(pos + 18);
      const extra = dir.readUInt32BE(pos + 20);
      const name = dir.subarray(pos + 24 + extra, pos + 24 + extra + nameLen).toString();
      if (name === 'g64k') dir.writeUInt32BE(dir.readUInt32BE(pos + 12) | 1, pos + 12);
      pos += Math.ceil((24 + extra + nameLen) / 8) * 8;
    }
    writeSync(fd, dir, 0, dir.length, ext.directoryOffset);
    closeSync(fd);
    const inUse = await cli(['bitmap', '--dump', copy, 'g64k']);
    assert.equal(inUse.code, 1);
    assert.match(inUse.stderr, /marked in use: it is inconsistent/);
  });
});
