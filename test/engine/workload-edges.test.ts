/** Hand-picked write edges: first and last byte, odd virtual sizes, whole clusters and tables, bad ranges. */
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { openImage } from '../../src/qcow2/open';
import { createImage } from '../../src/qcow2/create';
import { qemuImg, scratchDir, sha256File } from '../helpers/qemu';
import { opData, RawModel, takeBaseline, verifyAfterWorkload, type WriteOp } from '../helpers/workload';
import { makeWriteImage, type WriteImage } from '../helpers/write-images';

function edgeOps(img: WriteImage): WriteOp[] {
  const { virtualSize: size, clusterSize: cs, l2Span } = img;
  const ops: Array<[number, number]> = [
    [0, 1],
    [size - 1, 1],
    [size - Math.min(size, 300 * 1024), Math.min(size, 300 * 1024)],
    [cs, cs],
    [cs * 3 - 1, cs + 2],
    [Math.min(l2Span, size) - 1, Math.min(2, size - Math.min(l2Span, size) + 1)],
    [0, Math.min(size, 2 * cs + 3)],
    [size - cs - 7, 7],
    // qcow2-chain: the backing files end at 16 MiB, before the top image does.
    [16 * 1024 * 1024 - 100, 300],
    [16 * 1024 * 1024 - cs - 5, cs + 10],
  ];
  return ops.filter(([o, l]) => o >= 0 && l > 0 && o + l <= size).map(([offset, length], i) => ({ offset, length, dataSeed: 300 + i }));
}

describe('write edges (engine writeAt)', function () {
  this.timeout(120_000);
  const tmp = scratchDir('q2i-edges-');
  after(() => tmp.cleanup());

  const kinds = ['plain', 'qcow2-chain', 'compressed-zlib', 'extended-l2-backing', 'cluster-512', 'data-file-raw', 'huge-4T'] as const;
  for (const kind of kinds) {
    it(`${kind}: first byte, last byte, whole and straddled clusters and tables`, async () => {
      const img = await makeWriteImage(kind, tmp.path);
      const base = takeBaseline(img.path, img.backingFiles, tmp.path);
      const model = RawModel.fromImage(img.path, tmp.path(`${kind}.model.raw`));
      const ops = edgeOps(img);
      const dev = await openImage(img.path, { readOnly: false, l2CacheSlices: 1 });
      try {
        for (const op of ops) await dev.writeAt(opData(op), op.offset);
        await dev.fsyncRange(0, img.virtualSize);
      } finally {
        await dev.close();
      }
      model.apply(ops);
      verifyAfterWorkload(img.path, model, base, tmp.path, kind);
    });
  }

  it('an odd virtual size (not a multiple of the cluster size): the last partial cluster', async () => {
    const path = tmp.path('odd.qcow2');
    const size = 10 * 65536 + 1536;
    await createImage(path, { size });
    const img: WriteImage = { kind: 'odd', path, virtualSize: size, clusterSize: 65536, l2Span: 8192 * 65536, backingFiles: [] };
    const model = RawModel.fromImage(path, tmp.path('odd.raw'));
    const ops = edgeOps(img);
    const dev = await openImage(path, { readOnly: false });
    try {
      for (const op of ops) await dev.writeAt(opData(op), op.offset);
      await dev.fsyncRange(0, size);
    } finally {
      await dev.close();
    }
    model.apply(ops);
    verifyAfterWorkload(path, model, takeBaseline(path, [], tmp.path), tmp.path, 'odd size');
  });

  it('refuses writes past the end, at negative offsets, and on read-only opens, changing nothing', async () => {
    const img = await makeWriteImage('plain', tmp.path);
    const before = sha256File(img.path);
    const dev = await openImage(img.path, { readOnly: false });
    try {
      await assert.rejects(dev.writeAt(new Uint8Array(2), img.virtualSize - 1), /beyond the virtual size/);
      await assert.rejects(dev.writeAt(new Uint8Array(1), -1), /beyond the virtual size|offset/);
      await assert.rejects(dev.writeAt(new Uint8Array(1), 2 ** 60), /beyond the virtual size|offset/);
      await dev.writeAt(new Uint8Array(0), 0); // empty write: nothing to do
      await dev.flushMeta();
    } finally {
      await dev.close();
    }
    const ro = await openImage(img.path, { readOnly: true });
    try {
      await assert.rejects(ro.writeAt(new Uint8Array(1), 0), /read-only/);
    } finally {
      await ro.close();
    }
    assert.equal(sha256File(img.path), before);
    assert.equal(qemuImg(['check', img.path], true).code, 0);
  });

  it('clears unknown autoclear feature bits before the first write (as QEMU does)', async () => {
    const img = await makeWriteImage('plain', tmp.path);
    const bytes = readFileSync(img.path);
    bytes[95] |= 0x20; // autoclear bit 5: unknown to everyone
    bytes[91] |= 0x01; // autoclear bit 32: unknown
    writeFileSync(img.path, bytes);
    const model = RawModel.fromImage(img.path, tmp.path('autoclear.raw'));
    const op: WriteOp = { offset: 12345, length: 777, dataSeed: 9 };
    const dev = await openImage(img.path, { readOnly: false });
    try {
      await dev.writeAt(opData(op), op.offset);
      await dev.fsyncRange(0, img.virtualSize);
    } finally {
      await dev.close();
    }
    model.apply([op]);
    const after = readFileSync(img.path);
    assert.equal(after[95] & 0x20, 0, 'unknown autoclear bit 5 must be cleared');
    assert.equal(after[91] & 0x01, 0, 'unknown autoclear bit 32 must be cleared');
    verifyAfterWorkload(img.path, model, takeBaseline(img.path, [], tmp.path), tmp.path, 'autoclear');
  });
});
