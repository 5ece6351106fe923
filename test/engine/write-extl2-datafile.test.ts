import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { qemuImg, qemuIo, scratchDir, sha256File } from '../helpers/qemu';
import { assertClean, assertEqualsModel, guestBytes, pattern, randomWrites, withImage } from './write-support';

const MiB = 1 << 20;

describe('engine write path: extended L2 and external data files', function () {
  const tmp = scratchDir('q2i-wext-');
  after(() => tmp.cleanup());

  it('extended L2 over a backing file: subclusters written, bitmaps updated, only touched subclusters allocated', async () => {
    const size = 16 * MiB;
    const base = tmp.path('xbase.qcow2');
    const img = tmp.path('x.qcow2');
    qemuImg(['create', '-f', 'qcow2', base, String(size)]);
    qemuIo(base, ['write -P 3 0 16M'], ['-f', 'qcow2']);
    qemuImg(['create', '-f', 'qcow2', '-o', 'extended_l2=on', '-b', base, '-F', 'qcow2', img]);
    qemuIo(img, ['write -z 1M 64k', 'write -P 5 2M 8k', 'write -z 2M 2k'], ['-f', 'qcow2']);
    const baseSha = sha256File(base);
    const model = guestBytes(img, tmp.path('xinit.raw'));
    await withImage(img, async (dev) => {
      // One 100-byte write into an untouched cluster: only its subcluster becomes allocated.
      const b = pattern(100, 1);
      await dev.writeAt(b, 5 * MiB + 2048 * 3 + 10);
      model.set(b, 5 * MiB + 2048 * 3 + 10);
      await randomWrites(dev, model, 21, { writes: 200, maxLen: 9000, flushEvery: 60 });
    });
    assert.equal(sha256File(base), baseSha);
    assertClean(img);
    assertEqualsModel(img, model, tmp.path('model.raw'));
    const map = JSON.parse(qemuImg(['map', '--output=json', img]).stdout) as Array<{ start: number; length: number; depth: number }>;
    const own = map.find((e) => e.start <= 5 * MiB + 2048 * 3 && 5 * MiB + 2048 * 3 < e.start + e.length)!;
    assert.equal(own.depth, 0);
    assert.equal(own.length, 2048, 'only the touched subcluster is allocated');
  });

  it('extended L2 with compressed clusters and a snapshot', async () => {
    const size = 8 * MiB;
    const raw = tmp.path('xc.raw');
    const img = tmp.path('xc.qcow2');
    const init = new Uint8Array(size);
    for (let off = 0; off < size; off += 8192) init.set(pattern(3000, off), off);
    writeFileSync(raw, init);
    qemuImg(['convert', '-c', '-f', 'raw', '-O', 'qcow2', '-o', 'extended_l2=on', raw, img]);
    qemuIo(img, ['write -P 8 4M 1M'], ['-f', 'qcow2']);
    qemuImg(['snapshot', '-c', 'snap', img]);
    const snap = guestBytes(img, tmp.path('xs1.raw'), ['-l', 'snapshot.name=snap']);
    const model = guestBytes(img, tmp.path('xcinit.raw'));
    await withImage(img, (dev) => randomWrites(dev, model, 22, { writes: 150, maxLen: 20000, flushEvery: 50 }));
    assertClean(img);
    assertEqualsModel(img, model, tmp.path('model.raw'));
    assert.deepEqual(guestBytes(img, tmp.path('xs2.raw'), ['-l', 'snapshot.name=snap']), snap);
  });

  it('external data file: data goes to the data file at the guest offset; no data clusters in the image', async () => {
    const size = 16 * MiB;
    const img = tmp.path('d.qcow2');
    const data = tmp.path('d.data');
    qemuImg(['create', '-f', 'qcow2', '-o', `data_file=${data}`, img, String(size)]);
    qemuIo(img, ['write -P 4 1M 300k', 'write -z 1M 64k'], ['-f', 'qcow2']);
    const model = guestBytes(img, tmp.path('dinit.raw'));
    await withImage(img, (dev) => randomWrites(dev, model, 23, { writes: 150, maxLen: 50000, flushEvery: 40 }));
    assertClean(img);
    assertEqualsModel(img, model, tmp.path('model.raw'));
    assert.ok(readFileSync(img).length < 1 * MiB, 'image file holds metadata only');
  });

  it('external data file with a backing file', async () => {
    const size = 8 * MiB;
    const base = tmp.path('dbase.qcow2');
    const img = tmp.path('db.qcow2');
    qemuImg(['create', '-f', 'qcow2', base, String(size)]);
    qemuIo(base, ['write -P 6 0 8M'], ['-f', 'qcow2']);
    qemuImg(['create', '-f', 'qcow2', '-o', `data_file=${tmp.path('db.data')}`, '-b', base, '-F', 'qcow2', img]);
    const baseSha = sha256File(base);
    const model = guestBytes(img, tmp.path('dbinit.raw'));
    await withImage(img, (dev) => randomWrites(dev, model, 24, { writes: 100, maxLen: 30000 }));
    assert.equal(sha256File(base), baseSha);
    assertClean(img);
    assertEqualsModel(img, model, tmp.path('model.raw'));
  });

  it('data-file-raw: the raw data file stays the guest view', async () => {
    const size = 8 * MiB;
    const img = tmp.path('r.qcow2');
    const data = tmp.path('r.raw');
    qemuImg(['create', '-f', 'qcow2', '-o', `data_file=${data},data_file_raw=on`, img, String(size)]);
    qemuIo(img, ['write -P 2 0 1M'], ['-f', 'qcow2']);
    const model = guestBytes(img, tmp.path('rinit.raw'));
    await withImage(img, (dev) => randomWrites(dev, model, 25, { writes: 100, maxLen: 30000 }));
    assertClean(img);
    assertEqualsModel(img, model, tmp.path('model.raw'));
    const rawNow = readFileSync(data);
    assert.deepEqual(new Uint8Array(rawNow.subarray(0, size)), model, 'raw file equals the guest view');
  });
});
