/**
 * The write path's concurrency contract (src/qcow2/write/index.ts): check with repair, clusterUsage and close may
 * be called while writes are in flight. They wait for every write issued before them (fast in-place overwrites
 * included) and no write overlaps them; afterwards qemu-img check finds the image clean and its guest data is
 * exactly the writes applied in issue order.
 */
import { strict as assert } from 'node:assert';
import { openImage } from '../../src/qcow2';
import type { CheckResultEx, ClusterUsage } from '../../src/qcow2';
import { scratchDir } from '../helpers/qemu';
import { makeWriteImage, type KindName } from '../helpers/write-images';
import { envSeed, genWorkload, opData, RawModel, takeBaseline, verifyAfterWorkload, withSeed } from '../helpers/workload';

describe('concurrency contract: check --repair, usage and close during writes', function () {
  this.timeout(180_000);
  const tmp = scratchDir('q2i-contract-');
  after(() => tmp.cleanup());

  const kinds: KindName[] = ['plain', 'snapshots', 'qcow2-chain', 'tiny-reftable'];
  for (const kind of kinds) {
    it(`${kind}: 100 writes issued at once, with check({repair: 'all'}), clusterUsage() and close() among them`, async () => {
      const seed = envSeed(7300 + kind.length);
      await withSeed(seed, async () => {
        const img = await makeWriteImage(kind, tmp.path);
        const base = takeBaseline(img.path, img.backingFiles, tmp.path);
        const model = RawModel.fromImage(img.path, tmp.path(`${kind}.model.raw`));
        const ops = genWorkload(seed, img, { count: 100, maxLength: 48 * 1024 });
        // Small caches: slices are evicted and reloaded while the check and usage run between writes.
        const dev = await openImage(img.path, { readOnly: false, l2CacheSlices: 2, refblockCacheSlices: 2 });
        const writes: Promise<void>[] = [];
        const checks: Promise<CheckResultEx>[] = [];
        const usages: Promise<ClusterUsage>[] = [];
        let closed = false;
        ops.forEach((op, i) => {
          writes.push(dev.writeAt(opData(op), op.offset));
          // Rewrites of what was just written take the lock-free path when the checks and usage do not hold the lock.
          if (i % 5 === 0) writes.push(dev.writeAt(opData(op), op.offset));
          if (i % 19 === 7) checks.push(dev.check({ repair: 'all' }));
          if (i % 23 === 11) usages.push(dev.clusterUsage());
        });
        const closing = dev.close().then(() => (closed = true));
        await Promise.all(writes.map((w) => w.then(() => assert.equal(closed, false, 'a write finished after close'))));
        await closing;
        for (const r of await Promise.all(checks)) {
          assert.equal(r.failure, undefined, `check failed: ${r.failure}`);
          assert.equal(
            r.summary.corruptions + r.summary.leaks + r.summary.checkErrors,
            0,
            `check during writes found ${JSON.stringify(r.summary)}: ${r.findings.map((f) => f.qemuLine).join('; ')}`,
          );
          assert.equal(r.summary.corruptionsFixed + r.summary.leaksFixed, 0, 'a repair had something to fix during writes');
        }
        for (const u of await Promise.all(usages)) {
          const leaked = u.categories.find((c) => c.category === 'leaked')?.clusters ?? 0;
          assert.equal(leaked, 0, 'usage during writes saw leaked clusters');
          assert.ok((u.categories.find((c) => c.category === 'data')?.clusters ?? 0) > 0, 'usage saw no data clusters');
        }
        const duplicated = ops.flatMap((op, i) => (i % 5 === 0 ? [op, op] : [op]));
        model.apply(duplicated);
        verifyAfterWorkload(img.path, model, base, tmp.path, kind);
      });
    });
  }
});
