/**
 * The `check` and `usage` commands: same stdout, exit codes and detail lines as qemu-img check, on clean,
 * corrupted and repaired images.
 */
import { strict as assert } from 'node:assert';
import { copyFileSync, writeFileSync } from 'node:fs';
import { cli, qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { Layout } from '../engine/check-fixtures';

describe('cli check', function () {
  this.timeout(60_000);
  const dir = scratchDir('q2i-check-cli-');
  after(() => dir.cleanup());

  const make = (name: string, extra: string[] = []): string => {
    const p = dir.path(name);
    qemuImg(['create', '-f', 'qcow2', ...extra, p, '64M']);
    qemuIo(p, ['write -P 1 0 1M', 'write -c -P 2 4M 64k', 'write -P 3 9M 64k']);
    return p;
  };

  const both = async (
    args: string[],
  ): Promise<{ ours: { code: number; stdout: string; stderr: string }; theirs: { code: number; stdout: string; stderr: string } }> => {
    const o = await cli(['check', ...args]);
    const t = qemuImg(['check', ...args], true);
    return { ours: { code: o.code, stdout: o.stdout.toString(), stderr: o.stderr }, theirs: t };
  };

  it('clean image: human and JSON output are byte-identical to qemu-img', async () => {
    const p = make('clean.qcow2');
    for (const args of [[p], ['--output=json', p]]) {
      const { ours, theirs } = await both(args);
      assert.equal(ours.code, 0);
      assert.equal(ours.stdout, theirs.stdout);
      assert.equal(ours.stderr, '');
    }
  });

  it('corrupted image: exit 2, same summary, and every ERROR line qemu-img prints', async () => {
    const p = make('corrupt.qcow2');
    const l = new Layout(p);
    l.setRefcount(Math.floor(l.dataOffset(2) / l.cs), 0);
    l.setL2Entry(3, l.l2Entry(3) & ~(1n << 63n));
    for (const args of [[p], ['--output=json', p]]) {
      const { ours, theirs } = await both(args);
      assert.equal(ours.code, 2);
      assert.equal(theirs.code, 2);
      assert.equal(ours.stdout, theirs.stdout);
      assert.deepEqual(ours.stderr.trim().split('\n').sort(), theirs.stderr.trim().split('\n').sort());
    }
  });

  it('leaks only: exit 3 with the Leaked cluster lines', async () => {
    const p = make('leak.qcow2');
    const l = new Layout(p);
    l.setRefcount(Math.floor(l.dataOffset(5) / l.cs), 2);
    l.setL2Entry(5, l.l2Entry(5) & ~(1n << 63n)); // keep COPIED consistent so that only the leak remains
    const { ours, theirs } = await both([p]);
    assert.equal(theirs.code, 3, theirs.stderr);
    assert.equal(ours.code, 3);
    assert.equal(ours.stdout, theirs.stdout);
    assert.match(ours.stderr, /^Leaked cluster \d+ refcount=2 reference=1$/m);
  });

  for (const mode of ['leaks', 'all']) {
    it(`-r ${mode}: same report as qemu-img -r ${mode} on a copy, and qemu-img check is clean afterwards`, async () => {
      const p = make(`repair-${mode}.qcow2`);
      const l = new Layout(p);
      l.setRefcount(Math.floor(l.dataOffset(6) / l.cs), 3);
      l.setRefcount(Math.ceil(l.p.size / l.cs) - 1, 0);
      const copy = dir.path(`repair-${mode}-qemu.qcow2`);
      copyFileSync(p, copy);
      const o = await cli(['check', '-r', mode, p]);
      const t = qemuImg(['check', '-r', mode, copy], true);
      assert.equal(o.code, t.code, `${o.stderr}\n---\n${t.stderr}`);
      assert.equal(o.stdout.toString(), t.stdout);
      assert.equal(qemuImg(['check', p], true).code, qemuImg(['check', copy], true).code);
      assert.equal(qemuImg(['compare', p, copy], true).code, 0);
    });
  }

  it('a file that is not qcow2 exits 63 like qemu-img', async () => {
    const p = dir.path('raw.img');
    writeFileSync(p, Buffer.alloc(65536, 1));
    const o = await cli(['check', p]);
    assert.equal(o.code, 63);
    assert.equal(qemuImg(['check', p], true).code, 63);
    assert.equal(o.stderr.trim().split('\n').length, 1);
  });

  it('missing file and bad -r value: exit 1 with one line, no stack trace', async () => {
    const missing = await cli(['check', dir.path('nope.qcow2')]);
    assert.equal(missing.code, 1);
    assert.equal(missing.stderr.trim().split('\n').length, 1);
    const p = make('args.qcow2');
    const bad = await cli(['check', '-r', 'everything', p]);
    assert.equal(bad.code, 1);
    assert.doesNotMatch(bad.stderr, /\n\s+at /);
  });

  it('does not write to the image without -r', async () => {
    const p = make('ro.qcow2');
    const l = new Layout(p);
    l.setRefcount(Math.floor(l.dataOffset(1) / l.cs), 0);
    const before = l.p.read(0, l.p.size);
    assert.equal((await cli(['check', p])).code, 2);
    assert.ok(before.equals(l.p.read(0, l.p.size)));
  });
});

describe('cli usage', function () {
  this.timeout(60_000);
  const dir = scratchDir('q2i-usage-cli-');
  after(() => dir.cleanup());

  it('counts every host cluster once, by category, matching qemu-img check', async () => {
    const p = dir.path('u.qcow2');
    qemuImg(['create', '-f', 'qcow2', p, '64M']);
    qemuIo(p, ['write -P 1 0 1M', 'write -c -P 2 4M 64k']);
    qemuImg(['snapshot', '-c', 's1', p]);
    qemuIo(p, ['write -P 3 0 64k']);
    qemuImg(['bitmap', '--add', p, 'b0']);
    const o = await cli(['usage', '--output=json', p]);
    assert.equal(o.code, 0, o.stderr);
    const u = JSON.parse(o.stdout.toString());
    const by = Object.fromEntries(u.categories.map((c: { category: string; clusters: number }) => [c.category, c.clusters]));
    const total = u.categories.reduce((s: number, c: { clusters: number }) => s + c.clusters, 0);
    assert.equal(total, u['host-clusters']);
    assert.equal(by.header, 1);
    assert.equal(by['refcount-table'], 1);
    assert.equal(by.l1, 1);
    assert.ok(by['snapshot-table'] >= 1 && by['snapshot-l1'] >= 1);
    assert.equal(by.compressed, 1);
    assert.ok(by['bitmap-directory'] >= 1);
    const q = JSON.parse(qemuImg(['check', '--output=json', p]).stdout);
    // Data clusters of the active image and the snapshot: 16 + 1 (copy-on-write of the first cluster).
    assert.equal(by.data, q['allocated-clusters'] - q['compressed-clusters'] + 1);
    assert.ok(u['shared-clusters'] > 0);
    const human = await cli(['usage', p]);
    assert.equal(human.code, 0);
    assert.match(human.stdout.toString(), /^header\s+1\s+65536/m);
  });

  it('reports leaked clusters as leaked, not free', async () => {
    const p = dir.path('leak.qcow2');
    qemuImg(['create', '-f', 'qcow2', p, '64M']);
    qemuIo(p, ['write -P 1 0 256k']);
    const l = new Layout(p);
    const end = Math.ceil(l.p.size / l.cs);
    l.p.truncate((end + 2) * l.cs);
    l.setRefcount(end + 1, 1);
    const u = JSON.parse((await cli(['usage', '--output=json', p])).stdout.toString());
    const leaked = u.categories.find((c: { category: string }) => c.category === 'leaked');
    assert.deepEqual(leaked.ranges, [{ start: (end + 1) * l.cs, clusters: 1 }]);
    assert.equal(u.categories.find((c: { category: string }) => c.category === 'free').clusters, 1);
  });
});
