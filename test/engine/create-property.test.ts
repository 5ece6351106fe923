/**
 * Property test: for random option combinations, createImage and `qemu-img create` agree: both refuse, or both
 * succeed with the same bytes (or, where several refcount blocks are needed, the same guest view and options),
 * and qemu-img check finds ours clean. Q2I_LONG=1 tries more combinations.
 */
import { strict as assert } from 'node:assert';
import { readFileSync, rmSync, existsSync } from 'node:fs';
import fc from 'fast-check';
import { createImage, planLayout, type CreateOptions } from '../../src/qcow2/create';
import { qemuImg, scratchDir } from '../helpers/qemu';
import { LONG } from '../helpers/workload';

const arbOptions = fc.record({
  clusterBits: fc.integer({ min: 9, max: 21 }),
  refcountOrder: fc.integer({ min: 0, max: 6 }),
  compat: fc.constantFrom('0.10', '1.1') as fc.Arbitrary<'0.10' | '1.1'>,
  extendedL2: fc.boolean(),
  zstd: fc.boolean(),
  lazy: fc.boolean(),
  prealloc: fc.boolean(),
  // Log-uniform sizes from 0 to about 64 TiB, often not cluster-aligned.
  sizeBits: fc.integer({ min: 0, max: 46 }),
  sizeFraction: fc.double({ min: 0, max: 1, noNaN: true }),
});

describe('create: random options agree with qemu-img create', function () {
  this.timeout(LONG ? 1_800_000 : 180_000);
  const tmp = scratchDir('q2i-create-prop-');
  after(() => tmp.cleanup());

  it('same refusals, same bytes (or same view), clean check', async () => {
    let runs = 0;
    let identical = 0;
    await fc.assert(
      fc.asyncProperty(arbOptions, async (a) => {
        const size = Math.floor(2 ** a.sizeBits * (1 + a.sizeFraction));
        const clusterSize = 2 ** a.clusterBits;
        const refcountBits = 2 ** a.refcountOrder;
        // Skip combinations whose files would be needlessly large for a unit test (huge preallocation or L1).
        const l2Entries = clusterSize / (a.extendedL2 ? 16 : 8);
        if (a.prealloc && size > 256 * 2 ** 20) return;
        if ((size / (clusterSize * l2Entries)) * 8 > 8 * 2 ** 20 && (size / (clusterSize * l2Entries)) * 8 <= 32 * 2 ** 20) return;
        const opts: CreateOptions = {
          size,
          clusterSize,
          refcountBits,
          compat: a.compat,
          extendedL2: a.extendedL2,
          compressionType: a.zstd ? 'zstd' : 'zlib',
          lazyRefcounts: a.lazy,
        };
        if (a.prealloc) opts.preallocation = 'metadata';
        const o = [
          `cluster_size=${clusterSize}`,
          `refcount_bits=${refcountBits}`,
          `compat=${a.compat}`,
          `extended_l2=${a.extendedL2 ? 'on' : 'off'}`,
          `compression_type=${a.zstd ? 'zstd' : 'zlib'}`,
          `lazy_refcounts=${a.lazy ? 'on' : 'off'}`,
        ];
        if (a.prealloc) o.push('preallocation=metadata');
        const ours = tmp.path('p-ours.qcow2');
        const theirs = tmp.path('p-theirs.qcow2');
        for (const f of [ours, theirs]) if (existsSync(f)) rmSync(f);
        const q = qemuImg(['create', '-q', '-f', 'qcow2', '-o', o.join(','), theirs, String(size)], true);
        let err: Error | undefined;
        await createImage(ours, opts).catch((e: Error) => (err = e));
        const label = `${o.join(',')} size=${size}`;
        if (q.code !== 0) {
          assert.ok(err, `${label}: qemu-img refused (${q.stderr.trim()}) but we created it`);
          assert.ok(!existsSync(ours), `${label}: refused but left a file`);
          return;
        }
        assert.equal(err, undefined, `${label}: qemu-img created it but we refused: ${err?.message}`);
        runs++;
        const layout = planLayout(Math.ceil(size / 512) * 512, clusterSize, refcountBits, a.extendedL2, ours, a.prealloc ? 'inline' : 'none');
        if (layout.refblockOffsets.length === 1) {
          assert.ok(readFileSync(ours).equals(readFileSync(theirs)), `${label}: bytes differ`);
          identical++;
        }
        const chk = qemuImg(['check', ours], true);
        assert.equal(chk.code, 0, `${label}: ${chk.stdout}${chk.stderr}`);
        const info = JSON.parse(qemuImg(['info', '--output=json', ours]).stdout);
        const theirInfo = JSON.parse(qemuImg(['info', '--output=json', theirs]).stdout);
        assert.deepEqual(info['format-specific'], theirInfo['format-specific'], label);
        assert.equal(info['virtual-size'], theirInfo['virtual-size'], label);
        assert.equal(qemuImg(['compare', ours, theirs], true).code, 0, `${label}: guest contents differ`);
      }),
      { numRuns: LONG ? 400 : 60, seed: Number(process.env.Q2I_SEED ?? 20261125) },
    );
    assert.ok(runs > 10, `too few accepted combinations (${runs})`);
    assert.ok(identical > 5);
  });
});
