/**
 * Seeded random write workloads through Qcow2Dev.writeAt on every image kind. Tiny caches force L2 and refblock
 * eviction. Afterwards: qemu-img check clean (no errors, no leaks), qemu-img compare equal to the raw model,
 * backing files and snapshots byte-unchanged. Q2I_LONG=1 runs ten times as many writes; Q2I_SEED replays one.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { openImage } from '../../src/qcow2/open';
import { u32 } from '../../src/qcow2/format/bytes';
import { qemuImg, scratchDir, sha256File } from '../helpers/qemu';
import { markedRanges, nbdDirty } from '../helpers/nbd';
import { makeWriteImage, ALL_KINDS, type KindName, type WriteImage } from '../helpers/write-images';
import { envSeed, genWorkload, LONG, opData, RawModel, takeBaseline, verifyAfterWorkload, withSeed, type WriteOp } from '../helpers/workload';

const COUNTS: Partial<Record<KindName, number>> = { 'cluster-2M': 40, 'huge-4T': 120, 'tiny-reftable': 400 };

/** Applies ops through the engine; flushes metadata every `flushEvery` writes and at the end. */
export async function engineApply(img: WriteImage, ops: WriteOp[], flushEvery = 25): Promise<void> {
  const dev = await openImage(img.path, { readOnly: false, l2CacheSlices: 2, refblockCacheSlices: 2 });
  try {
    for (let i = 0; i < ops.length; i++) {
      await dev.writeAt(opData(ops[i]), ops[i].offset);
      if ((i + 1) % flushEvery === 0) await dev.flushMeta();
    }
    await dev.flushMeta();
    await dev.fsyncRange(0, dev.virtualSize);
    assert.equal(dev.needFlushMeta(), false);
  } finally {
    await dev.close();
  }
}

/** Reads back a sample of written ranges through a fresh engine and compares with the model file. */
async function readBack(img: WriteImage, model: RawModel, ops: WriteOp[]): Promise<void> {
  const dev = await openImage(img.path, { readOnly: true, l2CacheSlices: 2 });
  const raw = readFileSync(model.path, { flag: 'r' });
  try {
    for (const op of ops.slice(-20)) {
      const got = new Uint8Array(op.length);
      await dev.readAt(got, op.offset);
      if (raw.length >= op.offset + op.length)
        assert.ok(Buffer.from(got).equals(raw.subarray(op.offset, op.offset + op.length)), `read-back differs at ${op.offset}`);
    }
  } finally {
    await dev.close();
  }
}

function filesOf(img: WriteImage, p: (n: string) => string): string[] {
  const extra = img.kind === 'data-file' ? [p('ext.data')] : img.kind === 'data-file-raw' ? [p('extraw.data')] : [];
  return [img.path, ...img.backingFiles, ...extra];
}

describe('write workloads on every image kind (engine writeAt)', function () {
  this.timeout(LONG ? 1_800_000 : 180_000);
  const tmp = scratchDir('q2i-workload-');
  after(() => tmp.cleanup());

  ALL_KINDS.forEach((kind, i) => {
    it(kind, async () => {
      const seed = envSeed(7000 + i * 13);
      await withSeed(seed, async () => {
        const img = await makeWriteImage(kind, tmp.path);
        const count = (COUNTS[kind] ?? 150) * (LONG ? 10 : 1);
        const ops = genWorkload(seed, img, { count, highFrom: img.highFrom, maxLength: kind === 'tiny-reftable' ? 64 * 1024 : undefined });
        const hashes = filesOf(img, tmp.path).map((f) => [f, sha256File(f)] as const);
        const headerBefore = readFileSync(img.path).subarray(0, 64);

        if (img.mayRefuse) {
          // Either the engine refuses with a clear message and leaves every file untouched, or it writes correctly.
          const dev = await openImage(img.path, { readOnly: false });
          let refusal: Error | undefined;
          try {
            await dev.writeAt(opData(ops[0]), ops[0].offset);
            await dev.flushMeta();
          } catch (err) {
            refusal = err as Error;
          } finally {
            await dev.close().catch(() => undefined);
          }
          if (refusal) {
            assert.match(refusal.message, img.mayRefuse, refusal.message);
            assert.ok(!refusal.message.includes('\n'));
            for (const [f, h] of hashes) assert.equal(sha256File(f), h, `${f} changed although the write was refused`);
            return;
          }
          // It accepted the first write: remake the image and run the full workload below.
          await makeWriteImage(kind, tmp.path);
        }

        const base = takeBaseline(img.path, img.backingFiles, tmp.path);
        const model = RawModel.fromImage(img.path, tmp.path(`${kind}.model.raw`));
        await engineApply(img, ops);
        // The workload touches more L2 slices than the 2-slice cache holds, so dirty slices were evicted.
        const l2Entries = img.l2Span / img.clusterSize;
        const sliceSpan = Math.min(l2Entries, (64 * 1024) / (img.clusterSize / l2Entries)) * img.clusterSize;
        const slices = new Set(ops.flatMap((op) => [Math.floor(op.offset / sliceSpan), Math.floor((op.offset + op.length - 1) / sliceSpan)]));
        if (img.virtualSize > 4 * sliceSpan) assert.ok(slices.size > 2, `${kind}: only ${slices.size} L2 slices touched`);
        model.apply(ops);
        verifyAfterWorkload(img.path, model, base, tmp.path, kind);
        if (img.virtualSize <= 512 * 2 ** 20) await readBack(img, model, ops);
        if (kind === 'tiny-reftable') {
          const h = readFileSync(img.path).subarray(0, 64);
          assert.ok(u32(h, 56) > u32(headerBefore, 56) || u32(h, 52) !== u32(headerBefore, 52), 'the refcount table should have grown');
        }
        if (kind === 'bitmaps') {
          // Both enabled bitmaps (added after the image's first data) hold exactly the workload's granules, as QEMU reads them.
          for (const [name, g] of [
            ['dirty0', 64 * 1024],
            ['dirty1', 128 * 1024],
          ] as const) {
            const want = markedRanges([], ops, g, img.virtualSize);
            assert.deepEqual(await nbdDirty(img.path, name, tmp.path(`${name}.sock`)), want, `${kind}: bitmap ${name}`);
          }
        }
        if (kind === 'bitmaps-disabled') {
          const info = JSON.parse(qemuImg(['info', '--output=json', img.path]).stdout);
          const names = (info['format-specific'].data.bitmaps ?? []).map((b: { name: string }) => b.name);
          assert.deepEqual(names, ['frozen'], 'the disabled bitmap must survive');
        }
      });
    });
  });
});
