/**
 * Writes issued without waiting (as an editor or a block server would) land in issue order; interleaved
 * flushMeta, shrinkCaches and reads keep the image consistent.
 */
import { strict as assert } from 'node:assert';
import { openImage } from '../../src/qcow2/open';
import { qemuImg, scratchDir } from '../helpers/qemu';
import { makeWriteImage } from '../helpers/write-images';
import { envSeed, genWorkload, opData, RawModel, takeBaseline, verifyAfterWorkload, withSeed } from '../helpers/workload';

describe('concurrent writes (engine writeAt)', function () {
  this.timeout(120_000);
  const tmp = scratchDir('q2i-concurrent-');
  after(() => tmp.cleanup());

  for (const kind of ['qcow2-chain', 'compressed-zlib', 'extended-l2-backing', 'snapshots'] as const) {
    it(`${kind}: 120 overlapping writes issued at once, with flushes, cache shrinks and reads in between`, async () => {
      const seed = envSeed(9100 + kind.length);
      await withSeed(seed, async () => {
        const img = await makeWriteImage(kind, tmp.path);
        const base = takeBaseline(img.path, img.backingFiles, tmp.path);
        const model = RawModel.fromImage(img.path, tmp.path(`${kind}.model.raw`));
        const ops = genWorkload(seed, img, { count: 120, maxLength: 64 * 1024 });
        const dev = await openImage(img.path, { readOnly: false, l2CacheSlices: 2, refblockCacheSlices: 2 });
        try {
          const pending: Array<Promise<unknown>> = [];
          ops.forEach((op, i) => {
            pending.push(dev.writeAt(opData(op), op.offset));
            if (i % 17 === 0) pending.push(dev.flushMeta());
            if (i % 23 === 0) pending.push(dev.shrinkCaches());
            if (i % 11 === 0) pending.push(dev.readAt(new Uint8Array(4096), Math.min(op.offset, img.virtualSize - 4096)));
          });
          await Promise.all(pending);
          await dev.fsyncRange(0, img.virtualSize);
          assert.equal(dev.needFlushMeta(), false);
        } finally {
          await dev.close();
        }
        model.apply(ops);
        verifyAfterWorkload(img.path, model, base, tmp.path, kind);
      });
    });
  }

  it('writes after shrinkCaches with dirty metadata are not lost', async () => {
    const img = await makeWriteImage('plain', tmp.path);
    const model = RawModel.fromImage(img.path, tmp.path('plain.model.raw'));
    const ops = genWorkload(77, img, { count: 40 });
    const dev = await openImage(img.path, { readOnly: false, l2CacheSlices: 1, refblockCacheSlices: 1 });
    try {
      for (const op of ops) {
        await dev.writeAt(opData(op), op.offset);
        await dev.shrinkCaches();
      }
      assert.equal(dev.needFlushMeta(), false, 'shrinkCaches writes dirty metadata back');
      assert.ok(dev.l2CacheIsEmpty() && dev.refblockCacheIsEmpty());
    } finally {
      await dev.close();
    }
    model.apply(ops);
    assert.equal(qemuImg(['check', img.path], true).code, 0);
    assert.equal(qemuImg(['compare', '-f', 'qcow2', '-F', 'raw', img.path, model.path], true).code, 0);
  });
});
