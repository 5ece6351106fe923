/**
 * Validates the workload harness itself with QEMU as the writer: the model, the compare and the baseline logic
 * must hold for qemu-io's writes before they judge ours.
 */
import { strict as assert } from 'node:assert';
import { qemuImg, scratchDir } from '../helpers/qemu';
import { makeWriteImage, type KindName } from '../helpers/write-images';
import { envSeed, genWorkload, qemuIoApply, RawModel, takeBaseline, verifyAfterWorkload, withSeed, opData } from '../helpers/workload';

describe('workload harness (validated with qemu-io as the writer)', function () {
  this.timeout(120_000);
  const tmp = scratchDir('q2i-harness-');
  after(() => tmp.cleanup());

  const kinds: KindName[] = ['qcow2-chain', 'snapshots', 'extended-l2-backing', 'huge-4T', 'compressed-zstd'];
  kinds.forEach((kind, i) => {
    it(`${kind}: qemu-io writes keep the image equal to the raw model`, async () => {
      const seed = envSeed(1000 + i);
      await withSeed(seed, async () => {
        const img = await makeWriteImage(kind, tmp.path);
        const base = takeBaseline(img.path, img.backingFiles, tmp.path);
        const model = RawModel.fromImage(img.path, tmp.path(`${kind}.model.raw`));
        const ops = genWorkload(seed, img, { count: 40, highFrom: img.highFrom });
        qemuIoApply(img.path, ops, tmp.path);
        model.apply(ops);
        verifyAfterWorkload(img.path, model, base, tmp.path, kind);
      });
    });
  });

  it('detects a difference from the model', async () => {
    const img = await makeWriteImage('plain', tmp.path);
    const model = RawModel.fromImage(img.path, tmp.path('plain.model.raw'));
    const ops = genWorkload(5, img, { count: 5 });
    qemuIoApply(img.path, ops.slice(0, 4), tmp.path);
    model.apply(ops);
    const cmp = qemuImg(['compare', '-f', 'qcow2', '-F', 'raw', img.path, model.path], true);
    assert.equal(cmp.code, opData(ops[4]).every((b) => b === 0) ? 0 : 1);
  });

  it('workloads are deterministic per seed and stay inside the disk', () => {
    const g = { virtualSize: 4 * 2 ** 40, clusterSize: 65536, l2Span: 2 ** 29 };
    const a = genWorkload(42, g, { count: 500, highFrom: 4 * 2 ** 30 });
    assert.deepEqual(a, genWorkload(42, g, { count: 500, highFrom: 4 * 2 ** 30 }));
    for (const op of a) assert.ok(op.offset >= 0 && op.length >= 1 && op.length <= 300 * 1024 && op.offset + op.length <= g.virtualSize);
    assert.ok(a.some((op) => op.offset >= 4 * 2 ** 30));
    assert.ok(a.some((op) => op.length < 512));
    assert.ok(a.some((op) => Math.floor(op.offset / g.l2Span) !== Math.floor((op.offset + op.length - 1) / g.l2Span)));
  });
});
