/**
 * The test and bench plumbing itself: the count reporter that `npm test` sums, and the bench helpers that must
 * reproduce qemu-img bench's request pattern and read its result.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { benchOffsets, median, qemuImgBench, row } from '../../bench/lib';
import { qemuImg, scratchDir } from '../helpers/qemu';

const repo = resolve(__dirname, '../..');

describe('test infrastructure', () => {
  const tmp = scratchDir('q2i-infra-');
  after(() => tmp.cleanup());

  it('the count reporter writes passed/failed/skipped (hook failures count as failed)', () => {
    const spec = tmp.path('sample.test.ts');
    writeFileSync(
      spec,
      `describe('a', () => { it('passes', () => {}); it('fails', () => { throw new Error('x'); }); it.skip('skips', () => {}); });
       describe('b', () => { before(() => { throw new Error('hook'); }); it('never runs', () => {}); });`,
    );
    const counts = tmp.path('counts.json');
    const r = spawnSync(
      process.execPath,
      [join(repo, 'node_modules/mocha/bin/mocha.js'), '--no-config', '--import=tsx', '--reporter', join(repo, 'scripts/mocha-count-reporter.cjs'), spec],
      {
        cwd: repo,
        env: { ...process.env, MOCHA_COUNT_FILE: counts },
        encoding: 'utf8',
      },
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stdout, /1 passing/); // the spec output stays visible
    assert.deepEqual(JSON.parse(readFileSync(counts, 'utf8')), { passed: 1, failed: 2, skipped: 1 });
  });

  it("benchOffsets follows qemu-img 7.2's bench pattern (offset += step, modulo the image size)", () => {
    assert.deepEqual(benchOffsets({ count: 4, depth: 1, size: 1024 }, 4096), [0, 1024, 2048, 3072]);
    assert.deepEqual(benchOffsets({ count: 5, depth: 1, size: 1024 }, 4096), [0, 1024, 2048, 3072, 0]);
    assert.deepEqual(benchOffsets({ count: 4, depth: 1, size: 512, step: 3072, offset: 512 }, 4096), [512, 3584, 2560, 1536]);
    // The scattered 4 KiB pattern of read.bench.ts visits distinct blocks over a 1 GiB image.
    const offs = benchOffsets({ count: 32768, depth: 1, size: 4096, step: 4096 * 40961 }, 1 << 30);
    assert.equal(new Set(offs).size, offs.length);
  });

  it('qemuImgBench reads the run time of a real qemu-img bench', () => {
    const img = tmp.path('b.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', img, '16M']);
    const r = qemuImgBench(img, { count: 64, depth: 4, size: 65536 }, 1);
    assert.ok(r.seconds >= 0 && r.seconds < 30);
  });

  it('row computes ours/theirs, and median handles odd and even counts', () => {
    assert.equal(row({ name: 'x', ours: 3, theirs: 2, unit: 'ms', better: 'lower' }).ratio, 1.5);
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 2, 3]), 2.5);
  });
});
