/**
 * compare vs qemu-img compare 7.2: the same exit code and the same stdout on identical pairs, pairs differing in
 * the first or last byte, different sizes with and without -s, a chain against its flattened copy, raw against
 * qcow2; errors exit 2; --output=json lists every differing range.
 */
import { strict as assert } from 'node:assert';
import { copyFileSync } from 'node:fs';
import { cli, qemuImg, qemuIo, scratchDir } from '../helpers/qemu';

describe('compare (vs qemu-img compare)', function () {
  this.timeout(120_000);
  const s = scratchDir('q2i-cmp-');
  after(() => s.cleanup());
  const p = s.path;

  function make(name: string, size: string, cmds: string[], extra: string[] = []): string {
    qemuImg(['create', '-q', '-f', 'qcow2', ...extra, p(name), size]);
    if (cmds.length) qemuIo(p(name), cmds);
    return p(name);
  }

  before(() => {
    make('base.qcow2', '8M', ['write -P 0x5a 0 3M', 'write -c -P 0x6b 4M 64k', 'write -z 5M 1M', 'write -P 0x11 7M 512k']);
    copyFileSync(p('base.qcow2'), p('copy.qcow2'));
    qemuImg(['convert', '-O', 'raw', p('base.qcow2'), p('base.raw')]);
    copyFileSync(p('base.qcow2'), p('first.qcow2'));
    qemuIo(p('first.qcow2'), ['write -P 0x00 0 1']);
    copyFileSync(p('base.qcow2'), p('last.qcow2'));
    qemuIo(p('last.qcow2'), ['write -P 0x01 8388607 1']);
    copyFileSync(p('base.qcow2'), p('three.qcow2'));
    qemuIo(p('three.qcow2'), ['write -P 0x99 1000 10', 'write -P 0x99 4M 1k', 'write -P 0x00 7M 4k']);
    // Sizes: a larger copy whose tail reads as zeros, and one with data in the tail.
    qemuImg(['convert', '-O', 'qcow2', p('base.qcow2'), p('big0.qcow2')]);
    qemuImg(['resize', '-q', p('big0.qcow2'), '12M']);
    copyFileSync(p('big0.qcow2'), p('big1.qcow2'));
    qemuIo(p('big1.qcow2'), ['write -P 0x42 10M 100']);
    // A chain and its flattened copy, and the chain with one changed byte.
    qemuImg(['create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', p('top.qcow2')]);
    qemuIo(p('top.qcow2'), ['write -P 0x77 2M 256k', 'write -z 7M 64k']);
    qemuImg(['convert', '-O', 'qcow2', p('top.qcow2'), p('flat.qcow2')]);
    qemuImg(['create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', p('top2.qcow2')]);
    qemuIo(p('top2.qcow2'), ['write -P 0x77 2M 256k', 'write -z 7M 64k', 'write -P 0x5b 1536k 1']);
  });

  const cases: [string, string[]][] = [
    ['identical copies', ['base.qcow2', 'copy.qcow2']],
    ['an image and itself', ['base.qcow2', 'base.qcow2']],
    ['qcow2 against its raw conversion', ['base.qcow2', 'base.raw']],
    ['raw with -f/-F', ['-f', 'raw', '-F', 'raw', 'base.raw', 'base.raw']],
    ['the first byte differs', ['base.qcow2', 'first.qcow2']],
    ['the last byte differs', ['last.qcow2', 'base.qcow2']],
    ['three differences (first reported)', ['base.qcow2', 'three.qcow2']],
    ['larger image, zero tail', ['base.qcow2', 'big0.qcow2']],
    ['larger image, zero tail, -s', ['-s', 'base.qcow2', 'big0.qcow2']],
    ['larger image, data in the tail', ['big1.qcow2', 'base.qcow2']],
    ['larger image, data in the tail, -s', ['-s', 'big1.qcow2', 'base.qcow2']],
    ['same size, -s, identical copies', ['-s', 'base.qcow2', 'copy.qcow2']],
    ['a chain against its flattened copy', ['top.qcow2', 'flat.qcow2']],
    ['a changed chain against the flattened copy', ['top2.qcow2', 'flat.qcow2']],
    ['a chain against its own base', ['top.qcow2', 'base.qcow2']],
  ];
  for (const [label, args] of cases) {
    it(`${label}: same exit code and output as qemu-img`, async () => {
      const full = args.map((a) => (a.includes('.') ? p(a) : a));
      const theirs = qemuImg(['compare', ...full], true);
      const ours = await cli(['compare', ...full]);
      assert.equal(ours.stderr, '');
      assert.equal(ours.stdout.toString(), theirs.stdout);
      assert.equal(ours.code, theirs.code);
    });
  }

  it('a missing image exits 2 with a one-line error, as qemu-img', async () => {
    const theirs = qemuImg(['compare', p('base.qcow2'), p('nope.qcow2')], true);
    const ours = await cli(['compare', p('base.qcow2'), p('nope.qcow2')]);
    assert.equal(theirs.code, 2);
    assert.equal(ours.code, 2);
    assert.equal(ours.stderr.trim().split('\n').length, 1);
    assert.match(ours.stderr, /nope\.qcow2/);
  });

  it('--output=json lists every differing range, sector-aligned', async () => {
    const r = await cli(['compare', '--output=json', p('base.qcow2'), p('three.qcow2')]);
    assert.equal(r.code, 1, r.stderr);
    const j = JSON.parse(r.stdout.toString()) as { identical: boolean; differences: { start: number; length: number }[] };
    assert.equal(j.identical, false);
    assert.deepEqual(j.differences, [
      { start: 512, length: 512 }, // bytes 1000..1009 lie in sector 1
      { start: 4 * 1024 * 1024, length: 1024 },
      { start: 7 * 1024 * 1024, length: 4096 },
    ]);
    const same = await cli(['compare', '--output=json', p('top.qcow2'), p('flat.qcow2')]);
    assert.equal(same.code, 0);
    assert.deepEqual(JSON.parse(same.stdout.toString()).differences, []);
    const tail = await cli(['compare', '--output=json', p('base.qcow2'), p('big1.qcow2')]);
    assert.equal(tail.code, 1);
    assert.deepEqual(JSON.parse(tail.stdout.toString()).differences, [{ start: 10 * 1024 * 1024, length: 512 }]);
  });
});
