/** CLI `write -z` (zero clusters), with qemu-io `write -z` on a copy as the oracle: same content, same map on v3. */
import { strict as assert } from 'node:assert';
import { copyFileSync } from 'node:fs';
import { cli, qemuImg, qemuIo, scratchDir } from '../helpers/qemu';

const mapOf = (p: string) => (JSON.parse(qemuImg(['map', '--output=json', p]).stdout) as Record<string, unknown>[]).map(({ offset: _offset, ...rest }) => rest);

describe('cli write -z', function () {
  this.timeout(60_000);
  const tmp = scratchDir('q2i-write-z-');
  after(() => tmp.cleanup());
  const ranges: Array<[string, string]> = [
    ['1000', '3M'], // partial cluster at both ends
    ['16M', '512k'], // over a compressed cluster
    ['30M', '4M'], // unallocated
    ['40M', '100'], // inside one cluster
  ];

  const cases: Array<[string, string, boolean]> = [
    ['v3', 'compat=1.1', true],
    ['v3, 4 KiB clusters', 'compat=1.1,cluster_size=4k', true],
    ['v3, extended L2 (QEMU zeroes subclusters at the ends; content compared)', 'compat=1.1,extended_l2=on', false],
    ['v2 (no zero flag: zero bytes are written)', 'compat=0.10', false],
  ];
  for (const [title, opts, sameMap] of cases) {
    it(`${title}: qemu-img check clean, compare identical${sameMap ? ', same map as qemu-io write -z' : ''}`, async () => {
      const ours = tmp.path(`${title.replace(/\W+/g, '-')}.qcow2`);
      const theirs = tmp.path(`${title.replace(/\W+/g, '-')}-qemu.qcow2`);
      qemuImg(['create', '-q', '-f', 'qcow2', '-o', opts, ours, '64M']);
      qemuIo(ours, ['write -P 1 0 8M', 'write -c -P 2 16M 1M', 'write -P 3 40M 64k']);
      copyFileSync(ours, theirs);
      for (const [off, len] of ranges) {
        const r = await cli(['write', '-z', '-q', ours, off, len]);
        assert.equal(r.code, 0, r.stderr);
      }
      qemuIo(
        theirs,
        ranges.map(([off, len]) => `write -z ${off} ${len}`),
      );
      const check = JSON.parse(qemuImg(['check', '--output=json', ours]).stdout);
      assert.equal(check['check-errors'], 0);
      assert.equal(check.corruptions ?? 0, 0);
      assert.equal(check.leaks ?? 0, 0);
      assert.equal(qemuImg(['compare', ours, theirs]).stdout.trim(), 'Images are identical.');
      if (sameMap) assert.deepEqual(mapOf(ours), mapOf(theirs));
    });
  }

  it('refuses a range past the end and a missing LENGTH, without writing', async () => {
    const p = tmp.path('refuse.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', p, '1M']);
    let r = await cli(['write', '-z', p, '1M', '1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /would pass the end of the disk/);
    r = await cli(['write', '-z', p, '0']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /expected -z IMAGE OFFSET LENGTH/);
    assert.equal(JSON.parse(qemuImg(['check', '--output=json', p]).stdout)['check-errors'], 0);
  });
});
