/**
 * `npm start`'s demo maker (scripts/demo/make-demo.mjs) runs with our CLI alone, under a PATH that has node and
 * nothing else (no qemu-img, qemu-io or sfdisk), and qemu-img and sfdisk then find what the demo promises: a
 * three-layer chain over a raw base, a GPT with two named partitions, compressed clusters, zero clusters, an internal
 * snapshot that differs from the current disk, a persistent bitmap, clean checks.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { qemuImg, scratchDir } from '../helpers/qemu';
import { nbdDirty } from '../helpers/nbd';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

const REPO = join(__dirname, '../..');

describe('npm start demo (made without qemu-utils)', function () {
  this.timeout(180_000);
  const tmp = scratchDir('q2i-demo-');
  const dir = tmp.path('demo');
  after(() => tmp.cleanup());

  before(() => {
    assert.ok(existsSync(join(REPO, 'dist/cli.js')), 'dist/ is built (npm run build)');
    const bin = tmp.path('bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    const r = spawnSync(join(bin, 'node'), [join(REPO, 'scripts/demo/make-demo.mjs'), dir], {
      env: { PATH: bin, HOME: tmp.dir },
      encoding: 'utf8',
      timeout: 170_000,
    });
    assert.equal(spawnSync('/bin/sh', ['-c', 'command -v qemu-img || command -v qemu-io'], { env: { PATH: bin } }).status, 127, 'the PATH has no qemu tools');
    assert.equal(r.status, 0, `make-demo failed: ${r.stdout}${r.stderr}`);
  });

  it('is a three-layer chain demo.qcow2 → mid.qcow2 → base.raw (raw), and every qcow2 layer checks clean', () => {
    const chain = JSON.parse(qemuImg(['info', '--output=json', '--backing-chain', join(dir, 'demo.qcow2')]).stdout) as Array<Record<string, any>>;
    assert.deepEqual(
      chain.map((l) => [l.filename.split('/').pop(), l.format]),
      [
        ['demo.qcow2', 'qcow2'],
        ['mid.qcow2', 'qcow2'],
        ['base.raw', 'raw'],
      ],
    );
    assert.equal(chain[0]['backing-filename-format'], 'qcow2');
    assert.equal(chain[1]['backing-filename-format'], 'raw');
    for (const f of ['demo.qcow2', 'mid.qcow2']) {
      const c = JSON.parse(qemuImg(['check', '--output=json', join(dir, f)]).stdout);
      assert.equal(c['check-errors'], 0);
      assert.equal(c.corruptions ?? 0, 0, `${f} corruptions`);
      assert.equal(c.leaks ?? 0, 0, `${f} leaks`);
    }
  });

  it('has compressed clusters in mid.qcow2 and zero clusters in demo.qcow2', () => {
    const mid = JSON.parse(qemuImg(['check', '--output=json', join(dir, 'mid.qcow2')]).stdout);
    assert.ok(mid['compressed-clusters'] > 0);
    const map = JSON.parse(qemuImg(['map', '--output=json', join(dir, 'demo.qcow2')]).stdout) as Array<Record<string, any>>;
    const zeros = map.filter((e) => e.depth === 0 && e.zero && e.present);
    assert.ok(
      zeros.some((e) => e.start <= 260 * 2 ** 20 && e.start + e.length >= 262 * 2 ** 20),
      'zero clusters over the compressed layer',
    );
    assert.ok(
      map.some((e) => e.depth === 2 && e.data),
      'data from the raw base shows through',
    );
  });

  it('has a GPT with an EFI system and a Linux partition that sfdisk reads', () => {
    const r = spawnSync('sfdisk', ['--json', join(dir, 'base.raw')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'sfdisk has no complaint');
    const pt = JSON.parse(r.stdout).partitiontable;
    assert.equal(pt.label, 'gpt');
    assert.deepEqual(
      pt.partitions.map((p: any) => [p.start, p.name, p.type]),
      [
        [2048, 'EFI System', 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B'],
        [264192, 'Linux root', '0FC63DAF-8483-4772-8E79-3D69D8477DE4'],
      ],
    );
  });

  it('has an internal snapshot that differs from the current disk, and an enabled persistent bitmap (qemu-img info)', () => {
    const image = join(dir, 'demo.qcow2');
    const info = JSON.parse(qemuImg(['info', '--output=json', image]).stdout);
    assert.deepEqual(
      info.snapshots.map((s: any) => [s.id, s.name]),
      [['1', 'before-cleanup']],
    );
    assert.deepEqual(info['format-specific'].data.bitmaps, [{ flags: ['auto'], name: 'backup-0', granularity: 65536 }]);
    // 64 KiB at 130 MiB, now and in the snapshot (flattened to a sparse qcow2 first: the disk is 4 GiB). qemu-img dd's
    // count includes the skipped blocks.
    const block = (src: string, out: string): string => {
      qemuImg(['dd', '-f', 'qcow2', '-O', 'raw', 'bs=65536', `skip=${130 * 16}`, `count=${130 * 16 + 1}`, `if=${src}`, `of=${out}`]);
      return readFileSync(out).toString();
    };
    qemuImg(['convert', '-l', 'snapshot.name=before-cleanup', '-O', 'qcow2', image, tmp.path('snap.qcow2')]);
    assert.match(block(image, tmp.path('now.bin')), /after the snapshot/);
    assert.doesNotMatch(block(tmp.path('snap.qcow2'), tmp.path('snap.bin')), /after the snapshot/);
  });

  it("the bitmap's dirty ranges are the writes made after it (nbdinfo through qemu-nbd, and our bitmap --dump)", async () => {
    const image = join(dir, 'demo.qcow2');
    const want = [
      { start: 130 * MiB, length: 64 * 1024 },
      { start: 1 * GiB, length: 4 * MiB },
      { start: 3 * GiB, length: 32 * MiB },
    ];
    assert.deepEqual(await nbdDirty(image, 'backup-0', tmp.path('demo.sock')), want);
    const ours = spawnSync(process.execPath, [join(REPO, 'dist/cli.js'), 'bitmap', '--dump', '--output=json', image, 'backup-0'], { encoding: 'utf8' });
    assert.equal(ours.status, 0, ours.stderr);
    assert.deepEqual(JSON.parse(ours.stdout), want);
  });
});
