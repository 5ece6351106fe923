import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { qemuImg, qemuIo, scratchDir, sha256File } from '../helpers/qemu';
import { assertClean, assertEqualsModel, guestBytes, pattern, randomWrites, withImage } from './write-support';

const MiB = 1 << 20;

interface MapEntry {
  start: number;
  length: number;
  offset?: number;
}

/** Host offset of guest offset g according to qemu-img map. */
function hostOf(map: MapEntry[], g: number): number | undefined {
  const e = map.find((m) => m.start <= g && g < m.start + m.length);
  return e?.offset === undefined ? undefined : e.offset + (g - e.start);
}

describe('engine write path: copy-on-write sources', function () {
  const tmp = scratchDir('q2i-wcow-');
  after(() => tmp.cleanup());

  /** Fills an image with a mix of patterned writes through qemu-io. */
  function fillWithQemu(img: string, size: number, step: number): void {
    const cmds: string[] = [];
    for (let off = 0, i = 1; off + 70000 < size; off += step, i++) cmds.push(`write -P ${i % 250} ${off} 70000`);
    qemuIo(img, cmds, ['-f', 'qcow2']);
  }

  it('backing file (qcow2): data copied up, backing file untouched', async () => {
    const size = 32 * MiB;
    const base = tmp.path('base.qcow2');
    const top = tmp.path('top.qcow2');
    qemuImg(['create', '-f', 'qcow2', base, String(size)]);
    fillWithQemu(base, size, 300000);
    qemuImg(['create', '-f', 'qcow2', '-b', base, '-F', 'qcow2', top]);
    const baseSha = sha256File(base);
    const model = guestBytes(top, tmp.path('init.raw'));
    await withImage(top, (dev) => randomWrites(dev, model, 11, { writes: 150, maxLen: 100000, flushEvery: 40 }));
    assert.equal(sha256File(base), baseSha, 'backing file unchanged');
    assertClean(top);
    assertEqualsModel(top, model, tmp.path('model.raw'));
  });

  it('backing file (raw, shorter than the overlay): COW reads zeros past its end', async () => {
    const base = tmp.path('base.raw');
    const top = tmp.path('top2.qcow2');
    writeFileSync(base, pattern(3 * MiB + 1234, 5));
    qemuImg(['create', '-f', 'qcow2', '-b', base, '-F', 'raw', top, String(8 * MiB)]);
    const baseSha = sha256File(base);
    const model = guestBytes(top, tmp.path('init2.raw'));
    await withImage(top, (dev) => randomWrites(dev, model, 12, { writes: 100, maxLen: 50000 }));
    assert.equal(sha256File(base), baseSha);
    assertClean(top);
    assertEqualsModel(top, model, tmp.path('model.raw'));
  });

  for (const ctype of ['zlib', 'zstd']) {
    it(`compressed clusters (${ctype}): decompressed, rewritten, compressed range released`, async () => {
      const size = 16 * MiB;
      const raw = tmp.path(`c-${ctype}.raw`);
      const img = tmp.path(`c-${ctype}.qcow2`);
      const init = new Uint8Array(size);
      for (let off = 0; off < size; off += 4096) init.set(pattern(1000, off / 4096), off);
      writeFileSync(raw, init);
      qemuImg(['convert', '-c', '-f', 'raw', '-O', 'qcow2', '-o', `compression_type=${ctype}`, raw, img]);
      const model = init.slice();
      await withImage(img, (dev) => randomWrites(dev, model, 13, { writes: 120, maxLen: 40000, flushEvery: 30 }));
      assertClean(img);
      assertEqualsModel(img, model, tmp.path('model.raw'));
      const info = JSON.parse(qemuImg(['check', '--output=json', img]).stdout);
      assert.ok(info['compressed-clusters'] > 0, 'some clusters stay compressed');
    });
  }

  it('zero clusters over a backing file, and preallocated zero clusters reused in place', async () => {
    const size = 16 * MiB;
    const base = tmp.path('zbase.qcow2');
    const img = tmp.path('z.qcow2');
    qemuImg(['create', '-f', 'qcow2', base, String(size)]);
    fillWithQemu(base, size, 200000);
    qemuImg(['create', '-f', 'qcow2', '-b', base, '-F', 'qcow2', img]);
    // Allocated data, then zeroed without unmap (zero flag, offset kept) and with unmap (plain zero).
    qemuIo(img, ['write -P 9 0 4M', 'write -z 1M 1M', 'write -z -u 2M 1M', 'write -z 8M 2M'], ['-f', 'qcow2']);
    const map = JSON.parse(qemuImg(['map', '--output=json', img]).stdout) as Array<MapEntry & { zero: boolean }>;
    assert.ok(
      map.some((e) => e.zero && e.offset !== undefined && e.start >= MiB && e.start < 2 * MiB),
      'has preallocated zero clusters',
    );
    const fileSizeBefore = readFileSync(img).length;
    const baseSha = sha256File(base);
    const model = guestBytes(img, tmp.path('zinit.raw'));
    await withImage(img, async (dev) => {
      // Partial writes into the preallocated zero range, the plain zero range and the backing-only range.
      for (const [i, off] of [MiB + 100, MiB + 300000, 2 * MiB + 5, 8 * MiB + 65536 * 3 + 17, 12 * MiB + 999].entries()) {
        const b = pattern(3000, i);
        await dev.writeAt(b, off);
        model.set(b, off);
      }
    });
    assert.equal(sha256File(base), baseSha);
    assertClean(img);
    assertEqualsModel(img, model, tmp.path('model.raw'));
    const after = JSON.parse(qemuImg(['map', '--output=json', img]).stdout) as MapEntry[];
    assert.equal(hostOf(after, MiB), hostOf(map, MiB), 'preallocated zero cluster reused in place');
    assert.ok(fileSizeBefore > 0);
  });

  it('preallocation=metadata images are written in place', async () => {
    const img = tmp.path('prealloc.qcow2');
    qemuImg(['create', '-f', 'qcow2', '-o', 'preallocation=metadata', img, String(8 * MiB)]);
    const sizeBefore = readFileSync(img).length;
    const model = new Uint8Array(8 * MiB);
    await withImage(img, (dev) => randomWrites(dev, model, 14, { writes: 60, maxLen: 30000 }));
    assertClean(img);
    assertEqualsModel(img, model, tmp.path('model.raw'));
    assert.ok(readFileSync(img).length <= Math.max(sizeBefore, 8 * MiB + 65536 * 8), 'no new data clusters appended');
  });

  it('clusters and L2 tables shared with internal snapshots: snapshots stay byte-identical', async () => {
    const size = 16 * MiB;
    const img = tmp.path('snap.qcow2');
    qemuImg(['create', '-f', 'qcow2', img, String(size)]);
    qemuIo(img, ['write -c -P 78 10M 128k'], ['-f', 'qcow2']);
    fillWithQemu(img, size, 250000);
    qemuImg(['snapshot', '-c', 's1', img]);
    qemuIo(img, ['write -P 77 3M 2M'], ['-f', 'qcow2']);
    qemuImg(['snapshot', '-c', 's2', img]);
    const s1 = guestBytes(img, tmp.path('s1a.raw'), ['-l', 'snapshot.name=s1']);
    const s2 = guestBytes(img, tmp.path('s2a.raw'), ['-l', 'snapshot.name=s2']);
    const model = guestBytes(img, tmp.path('sinit.raw'));
    await withImage(img, (dev) => randomWrites(dev, model, 15, { writes: 150, maxLen: 60000, flushEvery: 50 }));
    assertClean(img);
    assertEqualsModel(img, model, tmp.path('model.raw'));
    assert.deepEqual(guestBytes(img, tmp.path('s1b.raw'), ['-l', 'snapshot.name=s1']), s1, 'snapshot s1 unchanged');
    assert.deepEqual(guestBytes(img, tmp.path('s2b.raw'), ['-l', 'snapshot.name=s2']), s2, 'snapshot s2 unchanged');
  });
});
