/**
 * measure vs qemu-img measure 7.2: byte-identical text and JSON for qcow2 and raw output, every cluster size and
 * refcount width, extended L2, preallocation, a backing file option, --size, snapshots (-l), chains, compressed and
 * v2 inputs, raw sparse inputs, and images with persistent bitmaps; the usage errors exit 1.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { cli, qemuImg, qemuIo, scratchDir } from '../helpers/qemu';

describe('measure (vs qemu-img measure)', function () {
  this.timeout(180_000);
  const s = scratchDir('q2i-measure-');
  after(() => s.cleanup());
  const p = s.path;

  before(() => {
    qemuImg(['create', '-q', '-f', 'qcow2', p('a.qcow2'), '1G']);
    // Data runs starting and ending inside clusters, a zero run, and runs in the same cluster after a zero run.
    qemuIo(p('a.qcow2'), [
      'write -P 1 0 1M',
      'write -z 4M 1M',
      'write -P 2 100M 64k',
      'write -P 3 300M 3k',
      'write -P 4 301M 1k',
      'write -z 301M 512',
      'write -P 5 302M 512',
    ]);
    qemuImg(['snapshot', '-c', 's1', p('a.qcow2')]);
    qemuIo(p('a.qcow2'), ['write -P 6 200M 2M']);
    qemuImg(['bitmap', '--add', p('a.qcow2'), 'b0']);
    qemuImg(['bitmap', '--add', '-g', '512k', p('a.qcow2'), 'a-much-longer-bitmap-name-for-the-directory']);
    qemuImg(['create', '-q', '-f', 'qcow2', '-b', p('a.qcow2'), '-F', 'qcow2', p('top.qcow2')]);
    qemuIo(p('top.qcow2'), ['write -P 7 300M 65k']);
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=2M,extended_l2=on', p('e.qcow2'), '5G']);
    qemuIo(p('e.qcow2'), ['write -P 1 3k 5k', 'write -P 1 10M 1k']);
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'compat=0.10', p('v2.qcow2'), '100M']);
    qemuIo(p('v2.qcow2'), ['write -P 9 1M 1M']);
    qemuImg(['convert', '-c', '-O', 'qcow2', p('v2.qcow2'), p('c.qcow2')]);
    execFileSync('truncate', ['-s', '10M', p('r.raw')]);
    execFileSync('dd', ['if=/dev/urandom', `of=${p('r.raw')}`, 'bs=4k', 'count=3', 'seek=700', 'conv=notrunc', 'status=none']);
  });

  const cases: Array<[string, string[]]> = [
    ['raw output (the default)', ['a.qcow2']],
    ['qcow2 output', ['-O', 'qcow2', 'a.qcow2']],
    ['qcow2 output, JSON', ['--output=json', '-O', 'qcow2', 'a.qcow2']],
    ['4 KiB clusters, 1-bit refcounts', ['-O', 'qcow2', '-o', 'cluster_size=4k,refcount_bits=1', 'a.qcow2']],
    ['512-byte clusters', ['-O', 'qcow2', '-o', 'cluster_size=512', 'e.qcow2']],
    ['extended L2 at 64 KiB', ['-O', 'qcow2', '-o', 'extended_l2=on,cluster_size=64k', 'e.qcow2']],
    ['2 MiB extended-L2 input', ['-O', 'qcow2', 'e.qcow2']],
    ['64-bit refcounts, --size 1P', ['-O', 'qcow2', '-o', 'refcount_bits=64', '--size', '1P']],
    ['--size, raw', ['--size', '1000']],
    ['--size=, qcow2', ['-O', 'qcow2', '--size=1000']],
    ['preallocation=metadata', ['-O', 'qcow2', '-o', 'preallocation=metadata', '--size', '3G']],
    ['preallocation=full', ['-O', 'qcow2', '-o', 'preallocation=full', 'a.qcow2']],
    ['preallocation=falloc, JSON', ['--output=json', '-O', 'qcow2', '-o', 'preallocation=falloc', 'a.qcow2']],
    ['a backing file counts every cluster', ['-O', 'qcow2', '-o', 'backing_file=x,backing_fmt=qcow2', 'a.qcow2']],
    ['compat=0.10 output: no bitmaps line', ['-O', 'qcow2', '-o', 'compat=0.10', 'a.qcow2']],
    ['a snapshot (-l NAME)', ['-O', 'qcow2', '-l', 's1', 'a.qcow2']],
    ['a snapshot (-l snapshot.name=)', ['--output=json', '-O', 'qcow2', '-l', 'snapshot.name=s1', 'a.qcow2']],
    ['a two-layer chain', ['-O', 'qcow2', 'top.qcow2']],
    ['a v2 input (no bitmaps)', ['-O', 'qcow2', 'v2.qcow2']],
    ['a compressed input', ['-f', 'qcow2', '-O', 'qcow2', 'c.qcow2']],
    ['a sparse raw input', ['-f', 'raw', '-O', 'qcow2', 'r.raw']],
  ];
  for (const [label, args] of cases) {
    it(`${label}: the same output and exit code`, async () => {
      const full = args.map((a) => (/\.(qcow2|raw)$/.test(a) ? p(a) : a));
      const theirs = qemuImg(['measure', ...full], true);
      const ours = await cli(['measure', ...full]);
      assert.equal(ours.stderr, '');
      assert.equal(ours.stdout.toString(), theirs.stdout);
      assert.equal(ours.code, theirs.code);
    });
  }

  for (const [label, args] of [
    ['--size with a filename', ['--size', '1G', 'a.qcow2']],
    ['neither --size nor a filename', []],
    ['an output format without measurement', ['-O', 'vmdk', 'a.qcow2']],
    ['a bad cluster size', ['-O', 'qcow2', '-o', 'cluster_size=3k', 'a.qcow2']],
    ['a missing image', ['nope.qcow2']],
  ] as Array<[string, string[]]>) {
    it(`refuses ${label}: exit 1, one line`, async () => {
      const full = args.map((a) => (/\.(qcow2|raw)$/.test(a) ? p(a) : a));
      assert.equal(qemuImg(['measure', ...full], true).code, 1);
      const ours = await cli(['measure', ...full]);
      assert.equal(ours.code, 1);
      assert.equal(ours.stdout.length, 0);
      assert.match(ours.stderr.split('\n')[0], /^qcow2-inspector: /);
    });
  }
});
