/**
 * `check` on a broken backing chain, with qemu-img 7.2 as the oracle: a missing file (one and two layers down) and
 * an unknown backing format give qemu-img's exit code and one-line message; a loop, where qemu-img hangs, fails fast
 * with the same kind of message; --no-backing checks the image's own metadata as qemu-img does with `"backing": null`.
 * Run as a process (dist/cli.js), from the images' folder, so file names print as given.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { qemuImg, scratchDir } from '../helpers/qemu';

const CLI = join(__dirname, '../../dist/cli.js');

describe('cli check on a broken backing chain', function () {
  this.timeout(60_000);
  const tmp = scratchDir('q2i-check-backing-');
  after(() => tmp.cleanup());
  const run = (cmd: string, args: string[], timeout = 20_000) => {
    const t0 = Date.now();
    const r = spawnSync(cmd, args, { cwd: tmp.dir, encoding: 'utf8', timeout });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0, timedOut: r.error !== undefined || r.signal !== null };
  };
  const ours = (args: string[]) => run(process.execPath, [CLI, 'check', ...args]);
  const theirs = (args: string[], timeout?: number) => run('qemu-img', ['check', ...args], timeout);
  const create = (name: string, backing: string, fmt = 'qcow2') =>
    qemuImg(['create', '-q', '-f', 'qcow2', '-u', '-b', backing, '-F', fmt, tmp.path(name), '64M']);

  before(() => {
    qemuImg(['create', '-q', '-f', 'qcow2', tmp.path('base.qcow2'), '64M']);
    create('missing.qcow2', 'gone.qcow2');
    create('deep.qcow2', 'missing.qcow2');
    create('loop-a.qcow2', 'loop-b.qcow2');
    create('loop-b.qcow2', 'loop-a.qcow2');
    create('self.qcow2', 'self.qcow2');
    create('fine.qcow2', 'base.qcow2');
    // An unknown format name, written into the format extension (qemu-img create refuses to write one).
    create('badfmt.qcow2', 'base.qcow2');
    const b = readFileSync(tmp.path('badfmt.qcow2'));
    const at = b.indexOf(Buffer.from('qcow2\0\0\0'), 100);
    b.write('vmdkx', at, 'latin1');
    writeFileSync(tmp.path('badfmt.qcow2'), b);
  });

  for (const [image, what] of [
    ['missing.qcow2', 'a missing backing file'],
    ['deep.qcow2', 'a missing file two layers down'],
    ['badfmt.qcow2', 'an unknown backing format'],
  ]) {
    it(`${what}: exit 1 and qemu-img's message`, () => {
      const q = theirs([image]);
      const o = ours([image]);
      assert.equal(q.code, 1);
      assert.equal(o.code, 1);
      assert.equal(o.stdout, '');
      assert.equal(o.stderr.replace(/^qcow2-inspector: /, ''), q.stderr.replace(/^qemu-img: /, ''));
      assert.equal(o.stderr.trim().split('\n').length, 1);
      // JSON output fails the same way.
      assert.equal(ours(['--output=json', image]).code, 1);
    });
  }

  it('names the image and the missing layer', () => {
    assert.match(ours(['deep.qcow2']).stderr, /Could not open 'deep\.qcow2': .*Could not open 'gone\.qcow2': No such file or directory/);
  });

  for (const image of ['loop-a.qcow2', 'self.qcow2']) {
    it(`a backing loop (${image}): exit 1 at once with a one-line message, where qemu-img hangs`, () => {
      const o = ours([image]);
      assert.equal(o.code, 1);
      assert.match(
        o.stderr,
        new RegExp(
          `^qcow2-inspector: Could not open '${image}': (Could not open backing file: )+Could not open '[\\w.-]+': the backing chain loops back to this file\\n$`,
        ),
      );
      assert.ok(o.ms < 5_000, `${o.ms} ms`);
      const q = theirs([image], 4_000);
      assert.ok(q.timedOut || q.code !== 0, 'qemu-img hangs or fails on it');
    });
  }

  it('--no-backing checks the image itself, as qemu-img does with "backing": null', () => {
    for (const image of ['missing.qcow2', 'loop-a.qcow2', 'badfmt.qcow2']) {
      const o = ours(['--no-backing', '--output=json', image]);
      const q = theirs(['--output=json', `json:{"driver":"qcow2","backing":null,"file":{"driver":"file","filename":"${tmp.path(image)}"}}`]);
      assert.equal(o.code, 0, o.stderr);
      assert.equal(q.code, 0, q.stderr);
      const strip = (s: string) => ({ ...JSON.parse(s), filename: undefined });
      assert.deepEqual(strip(o.stdout), strip(q.stdout));
    }
  });

  it('a whole chain checks as before', () => {
    const o = ours(['fine.qcow2']);
    assert.equal(o.code, 0);
    assert.equal(o.stdout, theirs(['fine.qcow2']).stdout);
  });
});
