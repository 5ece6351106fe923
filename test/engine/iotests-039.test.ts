/**
 * Ports of qemu-iotests 039 (lazy refcounts and the dirty bit), compared with qemu-img 7.2. A lazy-refcounts
 * image whose writer is killed is left dirty: check reports the same two errors, read-only use works, and
 * `check -r all` rebuilds the refcounts and clears the bit as qemu-img does. Where qemu differs on purpose
 * (`-r leaks` clears the dirty bit on close though the refcounts are still wrong; a read-write open repairs
 * silently), ours keeps the image marked and refuses writes until it is repaired.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cli, qemuImg, qemuIo, scratchDir, sha256File } from '../helpers/qemu';
import { both, checkLines, copies, incompatLo, qemuIoCrash, sameConvert, sameViews } from './iotests-support';
import { qemuCheck } from './check-fixtures';

const DIRTY = 1;
const KILLED_CHECK = ['ERROR cluster 5 refcount=0 reference=1', 'ERROR OFLAG_COPIED data cluster: l2_entry=8000000000050000 refcount=0'];

describe('iotest 039: lazy refcounts and the dirty bit, compared with qemu-img 7.2', function () {
  this.timeout(30_000);
  const dir = scratchDir('q2i-iotests-039-');
  after(() => dir.cleanup());

  /** A 128 MiB v3 image with 512 bytes of 0x5a at 0, written by a qemu-io that is then killed (or quits). */
  function image(name: string, lazy: boolean, kill = true, reopen?: string): string {
    const p = dir.path(name);
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', `compat=1.1,lazy_refcounts=${lazy ? 'on' : 'off'}`, p, '128M']);
    const cmds = [...(reopen ? [`reopen -o lazy-refcounts=${reopen}`] : []), 'write -P 0x5a 0 512'];
    if (kill) qemuIoCrash(p, cmds);
    else qemuIo(p, cmds);
    return p;
  }

  it('a lazy-refcounts image closed cleanly is not dirty and checks as in qemu-img', async () => {
    const p = image('clean.qcow2', true, false);
    assert.equal(incompatLo(p) & DIRTY, 0);
    await sameViews(p);
  });

  it('killed writer: the image is dirty, check reports the same two errors (exit 2)', async () => {
    const p = image('dirty.qcow2', true);
    assert.equal(incompatLo(p) & DIRTY, DIRTY);
    await sameViews(p);
    const lines = await checkLines(p, p);
    assert.deepEqual(lines.o, lines.q);
    assert.deepEqual(lines.q, KILLED_CHECK);
  });

  it('killed writer: read-only use works (read, map, convert) and leaves the dirty bit', async () => {
    const p = image('dirty-ro.qcow2', true);
    const before = sha256File(p);
    const r = await cli(['read', p, '0', '512']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.equals(Buffer.alloc(512, 0x5a)));
    await sameConvert(p, dir.path);
    await both(['map'], p, p);
    assert.equal(sha256File(p), before, 'unchanged');
    assert.equal(incompatLo(p) & DIRTY, DIRTY);
  });

  it('killed writer: check -r all rebuilds the refcounts and clears the dirty bit, as qemu-img', async () => {
    const [ref, ours] = copies(image('repair.qcow2', true), dir.path('repair-q.qcow2'), dir.path('repair-o.qcow2'));
    const lines = await checkLines(ref, ours, 'all');
    assert.deepEqual(lines.o, lines.q);
    assert.deepEqual(lines.q, [
      'ERROR cluster 5 refcount=0 reference=1',
      'Rebuilding refcount structure',
      'Repairing cluster 1 refcount=1 reference=0',
      'Repairing cluster 2 refcount=1 reference=0',
    ]);
    for (const p of [ref, ours]) {
      assert.equal(incompatLo(p) & DIRTY, 0, 'dirty bit cleared');
      assert.equal(qemuCheck(p).code, 0);
    }
    await both(['check', '--output=json'], ref, ours);
    qemuIo(ours, ['read -P 0x5a 0 512']);
  });

  it('killed writer: check -r leaks fails as qemu-img (the refcounts need a rebuild); ours keeps the dirty bit, qemu-img clears it on close', async () => {
    const [ref, ours] = copies(image('leaks.qcow2', true), dir.path('leaks-q.qcow2'), dir.path('leaks-o.qcow2'));
    const before = sha256File(ours);
    const r = await both(['check', '-r', 'leaks'], ref, ours);
    assert.equal(r.q.code, 1);
    assert.match(r.o.stderr, /check failed: need to rebuild refcount structures/);
    assert.equal(sha256File(ours), before, 'ours wrote nothing');
    assert.equal(incompatLo(ref) & DIRTY, 0, 'qemu-img 7.2 cleared the dirty bit though cluster 5 still has refcount 0');
    assert.equal(qemuCheck(ref).code, 2, '... and its image still has the corruption');
  });

  it('killed writer: a read-write open repairs in qemu; our write refuses (file unchanged) until check -r all', async () => {
    const [ref, ours] = copies(image('rw.qcow2', true), dir.path('rw-q.qcow2'), dir.path('rw-o.qcow2'));
    // qemu-io prints the repair's "ERROR ..." lines, which the qemuIo helper takes for a failure.
    const out = spawnSync('qemu-io', ['-c', 'write -P 0 0 512', ref], { encoding: 'utf8' });
    assert.equal(out.status, 0);
    assert.match(out.stderr + out.stdout, /Rebuilding refcount structure/);
    assert.equal(incompatLo(ref) & DIRTY, 0);
    const data = dir.path('rw.bin');
    writeFileSync(data, Buffer.alloc(512));
    const before = sha256File(ours);
    const w = await cli(['write', ours, '0', data]);
    assert.equal(w.code, 1);
    assert.match(w.stderr, /dirty flag set .*check -r all/);
    assert.equal(sha256File(ours), before, 'file unchanged');
    assert.equal((await cli(['check', '-r', 'all', ours])).code, 0);
    assert.equal((await cli(['write', ours, '0', data])).code, 0, 'writes work once repaired');
    assert.equal(qemuImg(['compare', '-q', ref, ours], true).code, 0, "same guest data as qemu's repair and write");
  });

  it('lazy_refcounts=off, killed writer: not dirty, checks clean as in qemu-img', async () => {
    const p = image('off.qcow2', false);
    assert.equal(incompatLo(p) & DIRTY, 0);
    await sameViews(p);
    assert.equal(qemuCheck(p).code, 0);
  });

  it('lazy refcounts switched on at runtime, killed: dirty, same two errors; switched off at runtime: clean', async () => {
    const on = image('reopen-on.qcow2', false, true, 'on');
    assert.equal(incompatLo(on) & DIRTY, DIRTY);
    await sameViews(on);
    const lines = await checkLines(on, on);
    assert.deepEqual(lines.o, KILLED_CHECK);
    assert.deepEqual(lines.q, KILLED_CHECK);
    const off = image('reopen-off.qcow2', true, true, 'off');
    assert.equal(readFileSync(off).readUInt32BE(76) & DIRTY, 0);
    await sameViews(off);
  });
});
