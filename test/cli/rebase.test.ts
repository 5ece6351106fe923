/**
 * CLI `rebase -u -b NEW [-F FMT]`: the header is byte-identical to `qemu-img rebase -u`'s (on copies of the same
 * image), errors match qemu-img's, and a power cut at every write (torn sectors, random survivors) leaves the old
 * or the new name and format, never a torn one, and nothing else changed.
 */
import { strict as assert } from 'node:assert';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { cli, qemuImg, scratchDir } from '../helpers/qemu';
import { parseHeader } from '../../src/qcow2/format/header';
import { MemIo, rebaseUnsafe } from '../../src/qcow2/index';
import { PowerLossIo } from '../../src/qcow2/io/fault';

interface Case {
  title: string;
  make: (p: string) => unknown;
  args: string[];
}

describe('cli rebase -u', function () {
  this.timeout(120_000);
  const tmp = scratchDir('q2i-rebase-');
  after(() => tmp.cleanup());
  const base = tmp.path('base.qcow2');
  before(() => qemuImg(['create', '-q', '-f', 'qcow2', base, '64M']));

  const overlay =
    (opts = '') =>
    (p: string) =>
      qemuImg(['create', '-q', '-f', 'qcow2', ...(opts ? ['-o', opts] : []), '-b', base, '-F', 'qcow2', p]);
  const ours = (p: string) => cli(['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', p]);
  const cases: Case[] = [
    { title: 'qcow2 → raw, shorter name', make: overlay(), args: ['-b', 'b.raw', '-F', 'raw'] },
    { title: 'same format, a long name', make: overlay(), args: ['-b', `${'deep/'.repeat(40)}base.qcow2`, '-F', 'qcow2'] },
    { title: '16 KiB clusters, extended L2', make: overlay('cluster_size=16k,extended_l2=on'), args: ['-b', 'other.qcow2', '-F', 'qcow2'] },
    { title: 'compat=0.10 (no feature table: all in the first sector)', make: overlay('compat=0.10'), args: ['-b', 'x.raw', '-F', 'raw'] },
    { title: 'an image made by our create', make: ours, args: ['-b', 'renamed.qcow2', '-F', 'qcow2'] },
  ];
  for (const c of cases) {
    it(`${c.title}: the file is byte-identical to qemu-img rebase -u's`, async () => {
      const a = tmp.path(`${c.title.replace(/\W+/g, '-')}-ours.qcow2`);
      const b = tmp.path(`${c.title.replace(/\W+/g, '-')}-qemu.qcow2`);
      await c.make(a);
      copyFileSync(a, b);
      const r = await cli(['rebase', '-u', ...c.args, a]);
      assert.equal(r.code, 0, r.stderr);
      qemuImg(['rebase', '-u', ...c.args, b]);
      assert.ok(readFileSync(a).equals(readFileSync(b)), 'same bytes as qemu-img rebase -u');
      const info = JSON.parse(qemuImg(['info', '--output=json', a]).stdout);
      assert.equal(info['backing-filename'], c.args[1]);
      assert.equal(info['backing-filename-format'], c.args[3]);
    });
  }

  it('without -F fails as qemu-img does (exit 1, nothing written)', async () => {
    const p = tmp.path('nofmt.qcow2');
    overlay()(p);
    const before = readFileSync(p);
    const r = await cli(['rebase', '-u', '-b', 'other.qcow2', p]);
    const q = qemuImg(['rebase', '-u', '-b', 'other.qcow2', p], true);
    assert.equal(r.code, 1);
    assert.equal(q.code, 1);
    assert.match(q.stderr, /Could not change the backing file to 'other\.qcow2': backing format must be specified/);
    assert.match(r.stderr, /Could not change the backing file to 'other\.qcow2': backing format must be specified/);
    assert.equal(r.stderr.trim().split('\n').length, 1);
    assert.ok(readFileSync(p).equals(before));
  });

  it('refuses a name that does not fit in the header cluster, and one over 1023 bytes, writing nothing', async () => {
    const p = tmp.path('small.qcow2');
    overlay('cluster_size=512')(p);
    const before = readFileSync(p);
    let r = await cli(['rebase', '-u', '-b', 'n'.repeat(600), '-F', 'qcow2', p]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /does not fit in the header cluster|no room in the header cluster/);
    r = await cli(['rebase', '-u', '-b', 'n'.repeat(1024), '-F', 'qcow2', p]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /limited to 1023 bytes/);
    assert.ok(readFileSync(p).equals(before));
  });

  it('an image without a backing file gains one: the format extension goes last (QEMU puts it first, moving the others)', async () => {
    const p = tmp.path('standalone.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', p, '64M']);
    const r = await cli(['rebase', '-u', '-b', 'base.qcow2', '-F', 'qcow2', p]);
    assert.equal(r.code, 0, r.stderr);
    const info = JSON.parse(qemuImg(['info', '--output=json', p]).stdout);
    assert.equal(info['backing-filename'], 'base.qcow2');
    assert.equal(info['backing-filename-format'], 'qcow2');
    assert.equal(JSON.parse(qemuImg(['check', '--output=json', p]).stdout)['check-errors'], 0);
  });

  it('-b "" drops the backing file (the unused format extension stays; qemu-img check clean)', async () => {
    const p = tmp.path('drop.qcow2');
    overlay()(p);
    assert.equal((await cli(['rebase', '-u', '-b', '', p])).code, 0);
    const info = JSON.parse(qemuImg(['info', '--output=json', p]).stdout);
    assert.equal(info['backing-filename'], undefined);
    assert.equal(JSON.parse(qemuImg(['check', '--output=json', p]).stdout)['check-errors'], 0);
  });

  const crashCases: Array<[string, (p: string) => unknown, string]> = [
    ['an overlay renamed', overlay(), `${base}|qcow2`],
    [
      'an image without a backing file gaining one (format extension appended)',
      (p) => qemuImg(['create', '-q', '-f', 'qcow2', p, '64M']),
      'undefined|undefined',
    ],
  ];
  for (const [title, make, oldPair] of crashCases)
    it(`${title}: a power cut at every write leaves the old or the new name and format, never torn, and nothing else changed`, async () => {
      const p = tmp.path(`crash-${title.length}.qcow2`);
      make(p);
      const initial = new Uint8Array(readFileSync(p));
      const cs = 65536;
      const newName = 'the/new/base-image-with-a-longer-name.raw';
      // How many writes the rebase makes, with the power on.
      const probe = new PowerLossIo(initial, p, { failAtWrite: Infinity });
      await rebaseUnsafe(probe, newName, 'raw');
      const total = probe.writes;
      assert.ok(total >= 4, `${total} writes`);
      const seen = new Set<string>();
      for (let n = 1; n <= total + 1; n++) {
        for (let seed = 1; seed <= 6; seed++) {
          const io = new PowerLossIo(initial, p, { failAtWrite: n, keepProbability: seed === 1 ? 0 : 0.5, seed, tornWrites: true });
          await rebaseUnsafe(io, newName, 'raw').catch((e) => assert.match(String(e), /power lost/));
          const bytes = await io.crashImage();
          const h = parseHeader(bytes.subarray(0, cs), p, bytes.length);
          const pair = `${h.backingFile}|${h.extensions.backingFormat}`;
          assert.ok(pair === oldPair || pair === `${newName}|raw`, `after a cut at write ${n} (seed ${seed}): ${pair}`);
          seen.add(pair);
          assert.ok(Buffer.from(bytes.subarray(cs)).equals(Buffer.from(initial.subarray(cs))), 'nothing past the header cluster changed');
          if (seed === 2) {
            // qemu-img opens what is left, and names the same backing file.
            const f = tmp.path(`cut-${title.length}-${n}.qcow2`);
            writeFileSync(f, bytes);
            const info = JSON.parse(qemuImg(['info', '--output=json', f]).stdout);
            assert.equal(info['backing-filename'], h.backingFile);
          }
        }
      }
      assert.equal(seen.size, 2, 'both outcomes happen');
    });

  it('MemIo without cuts gives the same bytes as the CLI', async () => {
    const p = tmp.path('mem.qcow2');
    overlay()(p);
    const io = new MemIo(new Uint8Array(readFileSync(p)), p);
    await rebaseUnsafe(io, 'm.raw', 'raw');
    assert.equal((await cli(['rebase', '-u', '-b', 'm.raw', '-F', 'raw', p])).code, 0);
    assert.ok(Buffer.from(io.bytes()).equals(readFileSync(p)));
  });
});
