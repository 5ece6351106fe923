/**
 * Internal snapshots, read-only: every snapshot of images with 1 and 5 snapshots (taken before and after writes,
 * zero writes, discards, compressed clusters and a resize) reads byte-identical to `qemu-img convert -l`, through
 * convert -l, read --snapshot and the engine's atSnapshot; `snapshot -l` prints qemu-img's text.
 */
import { strict as assert } from 'node:assert';
// Snapshots 1-4 of the 5-snapshot image were taken at 4 MiB, before the resize to 6 MiB.
import { copyFileSync, openSync, readFileSync, writeSync, closeSync, readSync } from 'node:fs';
import { cli, qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { openImage, type Qcow2Dev } from '../../src/qcow2';

const MiB = 1024 * 1024;

describe('internal snapshots, read-only (vs qemu-img 7.2)', function () {
  this.timeout(120_000);
  const scratch = scratchDir('q2i-snap-');
  after(() => scratch.cleanup());
  const one = scratch.path('one.qcow2');
  const five = scratch.path('five.qcow2');

  before(() => {
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=65536', one, '4M']);
    qemuIo(one, ['write -P 0x11 0 1M', 'write -P 0x12 3M 64k']);
    qemuImg(['snapshot', '-c', 'first', one]);
    qemuIo(one, ['write -P 0x21 512k 1M', 'write -z 3M 64k']);

    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=65536', five, '4M']);
    qemuImg(['snapshot', '-c', 'empty', five]); // before any write
    qemuIo(five, ['write -P 0xa1 0 2M', 'write -P 0xa2 3M 100k']);
    qemuImg(['snapshot', '-c', 'written', five]);
    qemuIo(five, ['write -z 256k 512k', 'write -z -u 1M 128k']);
    qemuImg(['snapshot', '-c', 'zeroed', five]);
    qemuIo(five, ['discard 1536k 256k', 'write -c -P 0xc3 2M 64k', 'write -c -P 0xc4 2176k 64k']);
    qemuImg(['snapshot', '-c', 'compressed', five]);
    qemuImg(['resize', '-q', five, '6M']);
    qemuIo(five, ['write -P 0xb5 5M 512k', 'write -P 0xb6 100k 10k']);
    qemuImg(['snapshot', '-c', 'grown', five]);
    qemuIo(five, ['write -P 0xee 0 6M']); // the current state differs everywhere
  });

  function qemuSnapshotBytes(image: string, spec: string): Buffer {
    const out = scratch.path(`q-${spec.replace(/\W/g, '_')}.raw`);
    qemuImg(['convert', '-l', spec, '-O', 'raw', image, out]);
    return readFileSync(out);
  }

  for (const [label, image, names] of [
    ['1 snapshot', one, ['first']],
    ['5 snapshots', five, ['empty', 'written', 'zeroed', 'compressed', 'grown']],
  ] as const) {
    describe(label, () => {
      it('snapshot -l prints the text qemu-img snapshot -l prints', async () => {
        const ours = await cli(['snapshot', '-l', image]);
        assert.equal(ours.code, 0, ours.stderr);
        assert.equal(ours.stdout.toString(), qemuImg(['snapshot', '-l', image]).stdout);
      });

      names.forEach((name, n) => {
        const id = String(n + 1);
        it(`snapshot ${id} (${name}): convert -l by name and by id, read --snapshot and atSnapshot equal qemu-img convert -l`, async () => {
          let expected = qemuSnapshotBytes(image, `snapshot.name=${name}`);
          for (const spec of [`snapshot.name=${name}`, `snapshot.id=${id}`, name]) {
            const out = scratch.path(`ours-${name}-${spec.length}.raw`);
            const r = await cli(['convert', '-l', spec, '-O', 'raw', image, out]);
            assert.equal(r.code, 0, r.stderr);
            assert.ok(readFileSync(out).equals(expected), `convert -l ${spec} differs from qemu-img`);
          }
          // qemu-img convert -l keeps the current virtual size; the snapshot itself has its own (disk_size), and
          // past it qemu-img's output is zeros.
          const size = name === 'grown' || label === '1 snapshot' ? expected.length : 4 * MiB;
          assert.ok(expected.subarray(size).every((x) => x === 0));
          const full = expected;
          expected = full.subarray(0, size);
          const read = await cli(['read', '--snapshot', name, image, '0', String(expected.length)]);
          assert.equal(read.code, 0, read.stderr);
          assert.ok(read.stdout.equals(expected), 'read --snapshot differs');
          const read2 = await cli(['read', `--snapshot=${id}`, image, '0', String(expected.length)]);
          assert.ok(read2.stdout.equals(expected), 'read --snapshot=ID differs');

          const dev = (await openImage(image, { readOnly: true })) as Qcow2Dev;
          try {
            const view = await dev.atSnapshot(name);
            assert.equal(view.virtualSize, expected.length, 'the snapshot reads with its own virtual size');
            const buf = new Uint8Array(expected.length);
            await view.readAt(buf, 0);
            assert.ok(Buffer.from(buf).equals(expected));
            await assert.rejects(view.writeAt(new Uint8Array(512), 0), /read-only/);
            await view.close(); // closes nothing: the image still reads
            await dev.readAt(new Uint8Array(512), 0);
          } finally {
            await dev.close();
          }
        });

        it(`snapshot ${id} (${name}): map --snapshot JSON covers the snapshot, and its zero ranges read as zeros`, async () => {
          const full = qemuSnapshotBytes(image, `snapshot.id=${id}`);
          const expected = full.subarray(0, name === 'grown' || label === '1 snapshot' ? full.length : 4 * MiB);
          const r = await cli(['map', '--output=json', '--snapshot', id, image]);
          assert.equal(r.code, 0, r.stderr);
          const entries = JSON.parse(r.stdout.toString()) as { start: number; length: number; data: boolean; zero: boolean }[];
          let pos = 0;
          for (const e of entries) {
            assert.equal(e.start, pos);
            pos += e.length;
            if (e.zero || !e.data)
              assert.ok(
                expected.subarray(e.start, e.start + e.length).every((b) => b === 0),
                `range ${e.start}+${e.length} is not zeros`,
              );
          }
          assert.equal(pos, expected.length);
        });
      });
    });
  }

  it('the current state of the 5-snapshot image is unaffected', async () => {
    const out = scratch.path('cur.raw');
    qemuImg(['convert', '-O', 'raw', five, scratch.path('qcur.raw')]);
    assert.equal((await cli(['convert', '-O', 'raw', five, out])).code, 0);
    assert.ok(readFileSync(out).equals(readFileSync(scratch.path('qcur.raw'))));
  });

  it('an unknown snapshot is a one-line error (read, map, convert -l)', async () => {
    for (const args of [
      ['read', '--snapshot', 'nope', one, '0', '512'],
      ['map', '--snapshot', 'nope', one],
      ['convert', '-l', 'snapshot.id=9', '-O', 'raw', one, scratch.path('x.raw')],
    ]) {
      const r = await cli(args);
      assert.notEqual(r.code, 0);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.match(r.stderr, /not found/);
    }
  });

  it('a snapshot whose L1 table lies beyond the end of the file is a one-line error', async () => {
    const bad = scratch.path('bad.qcow2');
    copyFileSync(one, bad);
    const fd = openSync(bad, 'r+');
    try {
      const hdr = Buffer.alloc(72);
      readSync(fd, hdr, 0, 72, 0);
      const snapTable = Number(hdr.readBigUInt64BE(64));
      const off = Buffer.alloc(8);
      off.writeBigUInt64BE(BigInt(1024 * MiB)); // cluster-aligned, far past the end
      writeSync(fd, off, 0, 8, snapTable);
    } finally {
      closeSync(fd);
    }
    const r = await cli(['read', '--snapshot', 'first', bad, '0', '512']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /L1 table lies beyond the end of the file/);
  });
});
