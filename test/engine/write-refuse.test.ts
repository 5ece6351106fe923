import { strict as assert } from 'node:assert';
import { openSync, readSync, writeSync, closeSync, readFileSync } from 'node:fs';
import { openImage, Qcow2Error } from '../../src/qcow2';
import { qemuImg, qemuIo, scratchDir, sha256File } from '../helpers/qemu';
import { assertClean, pattern, withImage } from './write-support';

/** Patches bytes of a file in place. */
function patch(path: string, offset: number, bytes: number[]): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Buffer.from(bytes), 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

function readU64(path: string, offset: number): number {
  const fd = openSync(path, 'r');
  const b = Buffer.alloc(8);
  readSync(fd, b, 0, 8, offset);
  closeSync(fd);
  return Number(b.readBigUInt64BE(0));
}

async function rejectsWrite(path: string, code: string, match: RegExp, opts: { readOnly?: boolean } = {}): Promise<void> {
  const sha = sha256File(path);
  const dev = await openImage(path, opts);
  try {
    await assert.rejects(dev.writeAt(pattern(4096, 1), 65536), (e: unknown) => {
      assert.ok(e instanceof Qcow2Error, String(e));
      assert.equal(e.code, code, e.message);
      assert.match(e.message, match);
      assert.ok(!e.message.includes('\n'));
      return true;
    });
  } finally {
    await dev.close();
  }
  assert.equal(sha256File(path), sha, 'image unchanged');
}

describe('engine write path: refusals and header rules', function () {
  const tmp = scratchDir('q2i-wref-');
  after(() => tmp.cleanup());
  const fresh = (name: string, opts = 'compat=1.1'): string => {
    const p = tmp.path(name);
    qemuImg(['create', '-f', 'qcow2', '-o', opts, p, '16M']);
    return p;
  };

  it('refuses images opened read-only', async () => {
    await rejectsWrite(fresh('ro.qcow2'), 'read-only', /read-only/, { readOnly: true });
  });

  it('refuses images with the corrupt bit, naming the repair', async () => {
    const p = fresh('corrupt.qcow2');
    patch(p, 79, [0x02]);
    await rejectsWrite(p, 'unsupported', /corrupt.*qemu-img check -r all/);
  });

  it('refuses dirty lazy-refcount images, naming the repair', async () => {
    const p = fresh('dirty.qcow2', 'lazy_refcounts=on');
    patch(p, 79, [0x01]);
    await rejectsWrite(p, 'unsupported', /dirty.*qemu-img check -r all/);
  });

  it('writes to images with enabled persistent bitmaps (they are marked; test/cli/bitmap-writes.test.ts); disabled ones are kept and stay valid', async () => {
    const p = fresh('bm.qcow2');
    qemuImg(['bitmap', '--add', p, 'b0']);
    await withImage(p, (dev) => dev.writeAt(pattern(4096, 1), 65536));
    assertClean(p);
    assert.deepEqual(JSON.parse(qemuImg(['info', '--output=json', p]).stdout)['format-specific'].data.bitmaps[0].flags, ['auto']);
    const q = fresh('bm2.qcow2');
    qemuImg(['bitmap', '--add', '--disable', q, 'frozen']);
    await withImage(q, (dev) => dev.writeAt(pattern(100000, 2), 12345));
    assertClean(q);
    const info = JSON.parse(qemuImg(['info', '--output=json', q]).stdout);
    assert.equal(info['format-specific'].data.bitmaps[0].name, 'frozen');
    qemuIo(q, [`read -P ${pattern(1, 2)[0]} 12345 1`], ['-r', '-f', 'qcow2']);
  });

  it('clears unknown autoclear bits before the first write and keeps known ones', async () => {
    const p = fresh('ac.qcow2');
    patch(p, 88, [0x80, 0, 0, 0, 0, 0, 0, 0x20]);
    await withImage(p, (dev) => dev.writeAt(pattern(5000, 3), 70000));
    assert.equal(readU64(p, 88), 0);
    assertClean(p);
  });

  it('refuses to let guest data overwrite metadata (an L2 entry pointing at the refcount table)', async () => {
    const p = fresh('overlap.qcow2');
    qemuIo(p, ['write -P 1 0 64k'], ['-f', 'qcow2']);
    const l1 = readU64(p, 40);
    const reftable = readU64(p, 48);
    const l2 = readU64(p, l1) & 0x00ff_ffff_ffff_fe00;
    // L2 entry 1 -> the refcount table, COPIED set: an in-place write there would destroy the refcounts.
    const e = Buffer.alloc(8);
    e.writeBigUInt64BE(BigInt(reftable) | (1n << 63n));
    patch(p, l2 + 8, [...e]);
    await rejectsWrite(p, 'bad-image', /refusing to write guest data at host offset 0x[0-9a-f]+: it holds the refcount table/);
    assert.ok(readFileSync(p).length > 0);
  });
});
