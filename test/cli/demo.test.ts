/**
 * `npm start`'s demo maker (scripts/demo/make-demo.mjs) runs with our CLI alone, under a PATH that has node and
 * nothing else (no qemu-img, qemu-io or sfdisk), and qemu-img and sfdisk then find what the demo promises: a
 * three-layer chain over a raw base, a GPT with two named partitions, compressed clusters, zero clusters, an internal
 * snapshot that differs from the current disk, a persistent bitmap, clean checks, and a FAT16 file system with long
 * names in the EFI partition (our own builder) that fsck.fat, mtools and our `fs` commands read.
 */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { cliProcess, qemuImg, scratchDir } from '../helpers/qemu';
import { nbdDirty } from '../helpers/nbd';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

const REPO = join(__dirname, '../..');

describe('npm start demo (made without qemu-utils)', function () {
  this.timeout(180_000);
  const tmp = scratchDir('q2i-demo-');
  const dir = tmp.path('demo');
  after(() => tmp.cleanup());

  before(() => {
    assert.ok(existsSync(join(REPO, 'dist/cli.js')), 'dist/ is built (npm run build)');
    const bin = tmp.path('bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    const r = spawnSync(join(bin, 'node'), [join(REPO, 'scripts/demo/make-demo.mjs'), dir], {
      env: { PATH: bin, HOME: tmp.dir },
      encoding: 'utf8',
      timeout: 170_000,
    });
    assert.equal(spawnSync('/bin/sh', ['-c', 'command -v qemu-img || command -v qemu-io'], { env: { PATH: bin } }).status, 127, 'the PATH has no qemu tools');
    assert.equal(r.status, 0, `make-demo failed: ${r.stdout}${r.stderr}`);
  });

  it('is a three-layer chain demo.qcow2 → mid.qcow2 → base.raw (raw), and every qcow2 layer checks clean', () => {
    const chain = JSON.parse(qemuImg(['info', '--output=json', '--backing-chain', join(dir, 'demo.qcow2')]).stdout) as Array<Record<string, any>>;
    assert.deepEqual(
      chain.map((l) => [l.filename.split('/').pop(), l.format]),
      [
        ['demo.qcow2', 'qcow2'],
        ['mid.qcow2', 'qcow2'],
        ['base.raw', 'raw'],
      ],
    );
    assert.equal(chain[0]['backing-filename-format'], 'qcow2');
    assert.equal(chain[1]['backing-filename-format'], 'raw');
    for (const f of ['demo.qcow2', 'mid.qcow2']) {
      const c = JSON.parse(qemuImg(['check', '--output=json', join(dir, f)]).stdout);
      assert.equal(c['check-errors'], 0);
      assert.equal(c.corruptions ?? 0, 0, `${f} corruptions`);
      assert.equal(c.leaks ?? 0, 0, `${f} leaks`);
    }
  });

  it('has compressed clusters in mid.qcow2 and zero clusters in demo.qcow2', () => {
    const mid = JSON.parse(qemuImg(['check', '--output=json', join(dir, 'mid.qcow2')]).stdout);
    assert.ok(mid['compressed-clusters'] > 0);
    const map = JSON.parse(qemuImg(['map', '--output=json', join(dir, 'demo.qcow2')]).stdout) as Array<Record<string, any>>;
    const zeros = map.filter((e) => e.depth === 0 && e.zero && e.present);
    assert.ok(
      zeros.some((e) => e.start <= 260 * 2 ** 20 && e.start + e.length >= 262 * 2 ** 20),
      'zero clusters over the compressed layer',
    );
    assert.ok(
      map.some((e) => e.depth === 2 && e.data),
      'data from the raw base shows through',
    );
  });

  it('has a GPT with an EFI system and a Linux partition that sfdisk reads', () => {
    const r = spawnSync('sfdisk', ['--json', join(dir, 'base.raw')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr.trim(), '', 'sfdisk has no complaint');
    const pt = JSON.parse(r.stdout).partitiontable;
    assert.equal(pt.label, 'gpt');
    assert.deepEqual(
      pt.partitions.map((p: any) => [p.start, p.name, p.type]),
      [
        [2048, 'EFI System', 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B'],
        [264192, 'Linux root', '0FC63DAF-8483-4772-8E79-3D69D8477DE4'],
      ],
    );
  });

  it('has an internal snapshot that differs from the current disk, and an enabled persistent bitmap (qemu-img info)', () => {
    const image = join(dir, 'demo.qcow2');
    const info = JSON.parse(qemuImg(['info', '--output=json', image]).stdout);
    assert.deepEqual(
      info.snapshots.map((s: any) => [s.id, s.name]),
      [['1', 'before-cleanup']],
    );
    assert.deepEqual(info['format-specific'].data.bitmaps, [{ flags: ['auto'], name: 'backup-0', granularity: 65536 }]);
    // 64 KiB at 130 MiB, now and in the snapshot (flattened to a sparse qcow2 first: the disk is 4 GiB). qemu-img dd's
    // count includes the skipped blocks.
    const block = (src: string, out: string): string => {
      qemuImg(['dd', '-f', 'qcow2', '-O', 'raw', 'bs=65536', `skip=${130 * 16}`, `count=${130 * 16 + 1}`, `if=${src}`, `of=${out}`]);
      return readFileSync(out).toString();
    };
    qemuImg(['convert', '-l', 'snapshot.name=before-cleanup', '-O', 'qcow2', image, tmp.path('snap.qcow2')]);
    assert.match(block(image, tmp.path('now.bin')), /after the snapshot/);
    assert.doesNotMatch(block(tmp.path('snap.qcow2'), tmp.path('snap.bin')), /after the snapshot/);
  });

  it('has a FAT16 file system with long names in the EFI partition: fsck.fat, mtools and our fs commands agree', () => {
    const image = join(dir, 'demo.qcow2');
    // The partition (1 MiB + 128 MiB) as raw bytes, by our CLI's `read` through the whole chain.
    const part = tmp.path('efi.raw');
    const fd = openSync(part, 'w');
    try {
      const r = spawnSync(process.execPath, [join(REPO, 'dist/cli.js'), 'read', image, '1M', '128M'], { stdio: ['ignore', fd, 'pipe'], encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    } finally {
      closeSync(fd);
    }
    const fsck = spawnSync('fsck.fat', ['-n', part], { encoding: 'utf8' });
    assert.equal(fsck.status, 0, fsck.stdout + fsck.stderr);
    assert.match(fsck.stdout, /^fsck\.fat [^\n]*\n[^\n]*: 11 files, 11\/32731 clusters\n$/, 'fsck.fat has nothing to say');

    const env = { ...process.env, TZ: 'UTC', MTOOLS_SKIP_CHECK: '1' };
    const mtools = (cmd: string, args: string[]): string => {
      const r = spawnSync(cmd, ['-i', part, ...args], { env, encoding: 'utf8' });
      assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr}`);
      return r.stdout;
    };
    const files = ['/README.txt', '/etc/hosts', '/etc/machine-info', '/logs/boot.log', '/logs/Kernel Messages 2026-12-03.log', '/EFI/BOOT/BOOTX64.EFI'];
    const listed = mtools('mdir', ['-/', '-b', '::/']).trim().split('\n');
    assert.deepEqual(
      listed
        .filter((l) => !l.endsWith('/'))
        .map((l) => l.slice(2))
        .sort(),
      [...files].sort(),
      'mtools sees the long names in their real case',
    );
    assert.match(mtools('mlabel', ['-s', '::']), /DEMO-EFI/);
    assert.match(mtools('mdir', ['::/etc']), /MACHIN~1 +50 .* machine-info/, 'a lossy long name has its ~1 short name');

    const vol = JSON.parse(cliProcess(['fs', 'list', '--output=json', image]).stdout).volumes[0];
    assert.deepEqual([vol.id, vol.type, vol.label, vol.clean], ['1', 'fat16', 'DEMO-EFI', true]);
    const ls = JSON.parse(cliProcess(['fs', 'ls', '--output=json', image, '1:/logs']).stdout) as Array<{ name: string; type: string; size: number }>;
    assert.deepEqual(
      ls.map((e) => e.name),
      ['boot.log', 'Kernel Messages 2026-12-03.log'],
    );
    for (const f of files) {
      const ours = cliProcess(['fs', 'cat', image, `1:${f}`]);
      assert.equal(ours.code, 0, ours.stderr);
      assert.equal(ours.stdout, mtools('mtype', [`::${f}`]), `${f}: fs cat and mtype read the same bytes`);
    }
    assert.match(mtools('mtype', ['::/etc/hosts']), /^127\.0\.0\.1\tlocalhost$/m);
    const log = mtools('mtype', ['::/logs/boot.log']);
    assert.ok(log.length > 4096, 'boot.log holds a few KiB');
    assert.equal(log.split('\n').length, 121);
    assert.equal(ls.find((e) => e.name === 'boot.log')?.size, log.length);
  });

  it("the bitmap's dirty ranges are the writes made after it (nbdinfo through qemu-nbd, and our bitmap --dump)", async () => {
    const image = join(dir, 'demo.qcow2');
    const want = [
      { start: 130 * MiB, length: 64 * 1024 },
      { start: 1 * GiB, length: 4 * MiB },
      { start: 3 * GiB, length: 32 * MiB },
    ];
    assert.deepEqual(await nbdDirty(image, 'backup-0', tmp.path('demo.sock')), want);
    const ours = spawnSync(process.execPath, [join(REPO, 'dist/cli.js'), 'bitmap', '--dump', '--output=json', image, 'backup-0'], { encoding: 'utf8' });
    assert.equal(ours.status, 0, ours.stderr);
    assert.deepEqual(JSON.parse(ours.stdout), want);
  });
});

describe("the demo's FAT16 builder (scripts/demo/fat16.mjs) on seeded random trees", function () {
  this.timeout(60_000);
  const tmp = scratchDir('q2i-fat16-');
  after(() => tmp.cleanup());
  const env = { ...process.env, TZ: 'UTC', MTOOLS_SKIP_CHECK: '1', LC_ALL: 'C.UTF-8' };

  type Node = { name: string; data?: string; children?: Node[] };
  /** A tree of directories and files: mixed case, spaces, non-ASCII, dotted names, names that share a ~N basis. */
  function randomTree(seed: number): { tree: Node; files: Map<string, Buffer> } {
    let s = seed;
    const rnd = (n: number): number => {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      return (s >>> 0) % n;
    };
    const words = ['Quarterly Report ', 'notes', 'Überblick-', 'LOG', 'x', 'a.b.', 'README', 'Very Long Directory Name '];
    const exts = ['', '.txt', '.TXT', '.tar.gz', '.Md', '.yaml'];
    const sizes = [0, 1, 4095, 4096, 4097];
    const files = new Map<string, Buffer>();
    const dir = (path: string, depth: number): Node[] =>
      Array.from({ length: (depth ? 2 : 6) + rnd(12) }, (_, i) => {
        const name = `${words[rnd(words.length)]}${i}${exts[rnd(exts.length)]}`;
        if (depth < 3 && rnd(4) === 0) return { name, children: dir(`${path}/${name}`, depth + 1) };
        const size = rnd(3) ? sizes[rnd(sizes.length)] : rnd(20_000);
        const data = Buffer.from(Array.from({ length: size }, () => rnd(256)));
        files.set(`${path}/${name}`, data);
        return { name, data: data.toString('base64') };
      });
    // Twelve names on one 8.3 basis: QUARTE~1 … QUART~10 … QUART~12.
    const reports = Array.from({ length: 12 }, (_, i) => {
      const data = Buffer.from(`report ${i}\n`);
      files.set(`/Many Reports/Quarterly Report ${i}.txt`, data);
      return { name: `Quarterly Report ${i}.txt`, data: data.toString('base64') };
    });
    return { tree: { name: '', children: [...dir('', 0), { name: 'Many Reports', children: reports }] }, files };
  }

  for (const seed of [1, 2, 3]) {
    it(`seed ${seed}: fsck.fat -n is silent, and mtools lists every long name and reads every byte`, () => {
      const { tree, files } = randomTree(seed * 0x9e3779b1);
      const image = tmp.path(`fat-${seed}.raw`);
      const script = `
        import { openSync, writeSync, ftruncateSync, readFileSync } from 'node:fs';
        import { fat16Pieces } from ${JSON.stringify(pathToFileURL(join(REPO, 'scripts/demo/fat16.mjs')).href)};
        const revive = (n) => (n.children ? { name: n.name, children: n.children.map(revive) } : { name: n.name, data: Buffer.from(n.data, 'base64') });
        const fd = openSync(process.argv[1], 'w');
        ftruncateSync(fd, 40000 * 512);
        for (const [at, b] of fat16Pieces(40000, revive(JSON.parse(readFileSync(0, 'utf8'))))) writeSync(fd, b, 0, b.length, at);`;
      const made = spawnSync(process.execPath, ['--input-type=module', '-e', script, image], { input: JSON.stringify(tree), encoding: 'utf8' });
      assert.equal(made.status, 0, made.stderr);
      const fsck = spawnSync('fsck.fat', ['-n', image], { encoding: 'utf8' });
      assert.equal(fsck.status, 0, fsck.stdout + fsck.stderr);
      assert.match(fsck.stdout, /^fsck\.fat [^\n]*\n[^\n]*: \d+ files, \d+\/4990 clusters\n$/, 'fsck.fat has nothing to say');
      const mdir = spawnSync('mdir', ['-i', image, '-/', '-b', '::/'], { env, encoding: 'utf8' });
      assert.equal(mdir.status, 0, mdir.stderr);
      const listed = mdir.stdout
        .trim()
        .split('\n')
        .filter((l) => !l.endsWith('/'))
        .map((l) => l.slice(2));
      assert.deepEqual(listed.sort(), [...files.keys()].sort());
      const reports = spawnSync('mdir', ['-i', image, '::/Many Reports'], { env, encoding: 'utf8' }).stdout;
      assert.match(reports, /^QUART~12 TXT +10 .* Quarterly Report 11\.txt$/m, 'the 12th name on one basis gets ~12');
      const out = tmp.path(`out-${seed}`);
      mkdirSync(out);
      const copy = spawnSync('mcopy', ['-i', image, '-s', '-n', '::/*', out], { env, encoding: 'utf8' });
      assert.equal(copy.status, 0, copy.stderr);
      for (const [path, data] of files) assert.ok(readFileSync(join(out, path)).equals(data), `${path}: the bytes mtools reads`);
    });
  }
});
