/** `find`: exit codes as grep (0 found, 2 none, 1 error), JSON output, one-line errors for bad patterns. */
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { makeQcow2, makeRaw } from '../helpers/images';
import { cli, scratchDir } from '../helpers/qemu';

describe('CLI find', function () {
  this.timeout(60_000);
  const s = scratchDir('q2i-find-');
  let image = '';
  before(() => {
    writeFileSync(s.path('n.bin'), 'MagicWord');
    const base = makeRaw(s.path('base.raw'), '1M', [`write -s ${s.path('n.bin')} 524288 9`]);
    image = makeQcow2(s.path('top.qcow2'), { size: '2M', backing: base, backingFmt: 'raw' }, ['write -P 0x11 64k 64k', `write -s ${s.path('n.bin')} 65530 9`]);
  });
  after(() => s.cleanup());

  it('finds through the chain: JSON ascending with layer and host offset, exit 0', async () => {
    const r = await cli(['find', '--output=json', image, 'MagicWord']);
    assert.equal(r.code, 0, r.stderr);
    const hits = JSON.parse(r.stdout.toString());
    assert.deepEqual(
      hits.map((h: { offset: number }) => h.offset),
      [65530, 524288],
    );
    assert.equal(hits[0].layer, 0);
    assert.equal(typeof hits[0]['host-offset'], 'number');
    assert.equal(hits[1].layer, 1);
    assert.equal(hits[1]['host-offset'], 524288);
  });

  it('human output: one line a hit; --from/--to, --ignore-case, --max', async () => {
    const r = await cli(['find', '--ignore-case', '--from', '0x10000', image, 'magicword']);
    assert.equal(r.code, 0);
    assert.deepEqual(
      r.stdout
        .toString()
        .trim()
        .split('\n')
        .map((l) => l.split(/\s+/)[0]),
      ['0x80000'],
    );
    const m = await cli(['find', '--hex', '--max', '3', image, '11 11']);
    assert.equal(m.code, 0);
    assert.equal(m.stdout.toString().trim().split('\n').length, 3);
    assert.match(m.stderr, /stopped after 3 hits/);
  });

  it('exit 2 when nothing is found', async () => {
    const r = await cli(['find', image, 'NotThere']);
    assert.equal(r.code, 2);
    assert.equal(r.stdout.toString(), '');
  });

  for (const [args, why] of [
    [['--hex', 'PAT', ''], /empty/],
    [['--hex', 'PAT', 'zz'], /invalid hex digit/],
    [['--hex', 'PAT', 'abc'], /odd number/],
    [['--text', 'PAT', 'x'.repeat(70_000)], /more than/],
    [['--regex', 'PAT', '(a+)+b'], /run away/],
  ] as [string[], RegExp][]) {
    it(`bad pattern ${why}: one line naming the file, exit 1`, async () => {
      const argv = args.map((a) => (a === 'PAT' ? image : a));
      const r = await cli(['find', ...argv]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, why);
      assert.ok(r.stderr.includes(image));
      assert.equal(r.stderr.trim().split('\n').length, 1);
    });
  }
});
