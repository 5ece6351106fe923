/**
 * `bitmap --add [-g GRANULARITY] [--disable] IMAGE NAME` against `qemu-img bitmap --add` on the same kind of image:
 * `qemu-img info` shows the same bitmaps part (name, granularity, flags), `qemu-img check` is clean, and for images
 * qemu-img made the header cluster is byte-identical. Refusals carry qemu-img's message. A power cut at every write
 * leaves the header without the bitmap or with all of it, the backing file name readable, and at most leaks.
 */
import { strict as assert } from 'node:assert';
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cli, qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { PowerLossIo } from '../../src/qcow2/io/fault';
import { NodeFileIo } from '../../src/qcow2/io/node';
import { openImage } from '../../src/qcow2/open';

interface Case {
  name: string;
  create: string[];
  add: string[];
  backing?: boolean;
  longName?: boolean;
}

const CASES: Case[] = [
  { name: 'v3, 64 KiB clusters, default granularity, enabled', create: [], add: [] },
  { name: 'v3, 512 B clusters (4 KiB default granularity; a 640-entry table)', create: ['-o', 'cluster_size=512'], add: [] },
  { name: 'v3, 2 MiB clusters, -g 1M --disable', create: ['-o', 'cluster_size=2M'], add: ['-g', '1M', '--disable'] },
  { name: 'v3, extended L2, -g 512', create: ['-o', 'extended_l2=on'], add: ['-g', '512'] },
  { name: 'an external data file', create: ['-o', 'data_file=DATA'], add: [] },
  { name: 'over a backing file (the name moves behind the new extension)', create: [], add: ['--disable'], backing: true },
  { name: 'a long backing file name (the extension crosses into the second sector)', create: [], add: [], backing: true, longName: true },
];

function bitmapsOf(image: string): unknown {
  return JSON.parse(qemuImg(['info', '--output=json', image]).stdout)['format-specific'].data.bitmaps;
}

describe('bitmap --add (vs qemu-img 7.2)', function () {
  this.timeout(300_000);
  const tmp = scratchDir('q2i-bitmap-');
  after(() => tmp.cleanup());

  CASES.forEach((c, n) => {
    it(`${c.name}: qemu-img info shows the bitmap qemu-img would add; check clean; same header cluster`, async () => {
      const img = tmp.path(`b${n}.qcow2`);
      // A 470-byte relative name: three nested folders (a file name is limited to 255 bytes).
      const backingName = c.longName ? `${['a', 'b', 'c'].map((l) => l.repeat(150)).join('/')}/base.qcow2` : `base${n}.qcow2`;
      if (c.longName) mkdirSync(tmp.path(backingName.slice(0, backingName.lastIndexOf('/'))), { recursive: true });
      if (c.backing) {
        qemuImg(['create', '-q', '-f', 'qcow2', tmp.path(backingName), '10G']);
        qemuImg(['create', '-q', '-f', 'qcow2', '-b', backingName, '-F', 'qcow2', ...c.create, img, '10G']);
        qemuIo(img, ['write -P 3 1M 64k']);
      } else {
        const create = c.create.map((o) => o.replace('DATA', tmp.path(`b${n}-data.raw`)));
        qemuImg(['create', '-q', '-f', 'qcow2', ...create, img, '10G']);
        qemuIo(img, ['write -P 3 1M 64k']);
      }
      const theirs = tmp.path(`b${n}-qemu.qcow2`);
      copyFileSync(img, theirs);
      const r = await cli(['bitmap', '--add', ...c.add, img, 'bm-one']);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.length + r.stderr.length, 0);
      qemuImg(['bitmap', '--add', ...c.add, theirs, 'bm-one']);
      assert.deepEqual(bitmapsOf(img), bitmapsOf(theirs));
      const chk = qemuImg(['check', img], true);
      assert.equal(chk.code, 0, chk.stdout + chk.stderr);
      const info = JSON.parse(qemuImg(['info', '--output=json', img]).stdout);
      if (c.backing) assert.equal(info['backing-filename'], backingName);
      const cs = info['cluster-size'];
      // Same free clusters, same allocation: the directory lands where qemu-img puts it, and the header cluster matches.
      const ours = readFileSync(img).subarray(0, Math.min(cs, 4096));
      const qemu = readFileSync(theirs).subarray(0, Math.min(cs, 4096));
      assert.ok(ours.equals(qemu), "header cluster identical to qemu-img's");
      qemuIo(img, ['read -P 3 1M 64k'], ['-r']); // the guest data is untouched
    });
  });

  it('adds to an image that has (disabled) bitmaps already, as qemu-img does: same bitmaps list, check clean', async () => {
    const img = tmp.path('several.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', tmp.path('several-base.qcow2'), '10G']);
    qemuImg(['create', '-q', '-f', 'qcow2', '-b', 'several-base.qcow2', '-F', 'qcow2', img, '10G']);
    const theirs = tmp.path('several-qemu.qcow2');
    copyFileSync(img, theirs);
    for (const args of [['--disable', 'first'], ['--disable', '-g', '1M', 'second'], ['third']]) {
      const name = args[args.length - 1];
      const opts = args.slice(0, -1);
      const r = await cli(['bitmap', '--add', ...opts, img, name]);
      assert.equal(r.code, 0, r.stderr);
      qemuImg(['bitmap', '--add', ...opts, theirs, name]);
    }
    assert.deepEqual(bitmapsOf(img), bitmapsOf(theirs));
    assert.equal(qemuImg(['check', img], true).code, 0);
    // With an enabled bitmap present, a fourth goes in too (it used to be refused).
    const r = await cli(['bitmap', '--add', img, 'fourth']);
    assert.equal(r.code, 0, r.stderr);
    qemuImg(['bitmap', '--add', theirs, 'fourth']);
    assert.deepEqual(bitmapsOf(img), bitmapsOf(theirs));
    assert.equal(qemuImg(['check', img], true).code, 0);
  });

  it("refusals carry qemu-img's message: v2, a duplicate name, an empty name, a bad granularity, a name over 1023 bytes", async () => {
    const v2 = tmp.path('v2.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'compat=0.10', v2, '1M']);
    const q = qemuImg(['bitmap', '--add', v2, 'b0'], true);
    const ours = await cli(['bitmap', '--add', v2, 'b0']);
    assert.equal(ours.code, 1);
    assert.equal(q.code, 1);
    assert.match(q.stderr, /Cannot store dirty bitmaps in qcow2 v2 files/);
    assert.match(
      ours.stderr,
      /Operation add on bitmap b0 failed: Can't make bitmap 'b0' persistent in '.*v2.qcow2': Cannot store dirty bitmaps in qcow2 v2 files/,
    );
    const v3 = tmp.path('v3.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', v3, '1M']);
    const cases: Array<[string[], RegExp]> = [
      [['-g', '256', v3, 'x'], /Granularity must be power of 2 and at least 512/],
      [['-g', '3000', v3, 'x'], /Granularity must be power of 2 and at least 512/],
      [['-g', '4G', v3, 'x'], /Granularity must be power of 2 and at least 512/],
      [[v3, ''], /Bitmap name cannot be empty/],
      [[v3, 'n'.repeat(1024)], /Name length exceeds maximum \(1023 characters\)/],
    ];
    for (const [args, re] of cases) {
      const a = await cli(['bitmap', '--add', ...args]);
      const b = qemuImg(['bitmap', '--add', ...args], true);
      assert.equal(a.code, 1, args.join(' '));
      assert.equal(b.code, 1, args.join(' '));
      assert.match(a.stderr, re);
      assert.match(b.stderr, re);
      assert.equal(a.stderr.trim().split('\n').length, 1);
    }
    const dup = tmp.path('dup.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', dup, '1M']);
    qemuImg(['bitmap', '--add', '--disable', dup, 'b0']);
    const a = await cli(['bitmap', '--add', dup, 'b0']);
    assert.equal(a.code, 1);
    assert.match(a.stderr, /Operation add on bitmap b0 failed: Bitmap already exists: b0/);
    assert.match(qemuImg(['bitmap', '--add', dup, 'b0'], true).stderr, /Bitmap already exists: b0/);
    assert.equal(qemuImg(['check', dup], true).code, 0);
  });

  describe('power cut at every write', () => {
    for (const [withBacking, existing] of [
      [false, false],
      [true, false],
      [false, true],
    ] as const) {
      it(`${withBacking ? 'with a backing file name to move' : existing ? 'a disabled bitmap already there' : 'no backing file'}: the header has no new bitmap or the whole one; never torn`, async () => {
        const img = tmp.path(`cut${withBacking ? 'b' : ''}${existing ? 'e' : ''}.qcow2`);
        if (withBacking) {
          qemuImg(['create', '-q', '-f', 'qcow2', tmp.path('cutbase.qcow2'), '1G']);
          qemuImg(['create', '-q', '-f', 'qcow2', '-b', 'cutbase.qcow2', '-F', 'qcow2', img, '1G']);
        } else qemuImg(['create', '-q', '-f', 'qcow2', img, '1G']);
        qemuIo(img, ['write -P 5 0 128k']);
        if (existing) qemuImg(['bitmap', '--add', '--disable', '-g', '128k', img, 'old']);
        const initial = new Uint8Array(readFileSync(img));
        const add = async (io: PowerLossIo): Promise<void> => {
          let dev;
          try {
            dev = await openImage(img, { readOnly: false, openIo: (p) => (p === img ? Promise.resolve(io) : NodeFileIo.open(p, true)) });
            if (dev.format !== 'qcow2') throw new Error('not qcow2');
            await dev.addBitmap('cut');
          } catch {
            /* the power cut */
          } finally {
            await dev?.close().catch(() => undefined);
          }
        };
        const probe = new PowerLossIo(initial, img, { failAtWrite: Infinity });
        await add(probe);
        const total = probe.writes;
        assert.ok(total >= 3, `${total} writes`);
        const seen = new Set<string>();
        for (let n = 1; n <= total + 1; n++) {
          for (const keep of [0, 0.5, 1]) {
            const io = new PowerLossIo(initial, img, { failAtWrite: n, keepProbability: keep, seed: n, tornWrites: keep > 0 });
            await add(io);
            const crashed = tmp.path('cut-crash.qcow2');
            writeFileSync(crashed, await io.crashImage());
            const label = `cut at write ${n}/${total}, keep ${keep}`;
            const info = JSON.parse(qemuImg(['info', '--output=json', crashed]).stdout);
            const bitmaps = info['format-specific'].data.bitmaps;
            const oldOne = existing ? [{ flags: [], name: 'old', granularity: 131072 }] : [];
            const without = JSON.stringify(existing ? oldOne : undefined);
            const withIt = JSON.stringify([...oldOne, { flags: ['auto'], name: 'cut', granularity: 65536 }]);
            assert.ok([without, withIt].includes(JSON.stringify(bitmaps)), `${label}: ${JSON.stringify(bitmaps)}`);
            const added = JSON.stringify(bitmaps) === withIt;
            if (withBacking) assert.equal(info['backing-filename'], 'cutbase.qcow2', label);
            const chk = JSON.parse(qemuImg(['check', '--output=json', crashed], true).stdout);
            assert.equal((chk.corruptions ?? 0) + (chk['check-errors'] ?? 0), 0, `${label}: ${JSON.stringify(chk)}`);
            const dev = await openImage(crashed, { readOnly: true });
            await dev.close();
            seen.add(`${added ? 'with' : 'without'} bitmap, ${chk.leaks ?? 0} leaks`);
          }
        }
        console.log(`      ${total} writes; outcomes seen: ${[...seen].join('; ')}`);
        assert.ok([...seen].some((s) => s.startsWith('with ')) && [...seen].some((s) => s.startsWith('without')));
      });
    }
  });
});
