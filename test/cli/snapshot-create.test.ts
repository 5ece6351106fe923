/**
 * `snapshot -c NAME IMAGE` (internal snapshot creation, write/snapshot-create.ts) against qemu-img 7.2 on v2 and v3
 * images, 512 B / 64 KiB / 2 MiB clusters, compressed and zero clusters, extended L2 and a backing chain: after our
 * snapshot `qemu-img check` is clean; `qemu-img snapshot -l` lists it as it lists one qemu-img made (all columns but
 * the date); after further writes by qemu-io, `qemu-img convert -l snapshot.name=NAME` still gives the disk as it was.
 * Refusals match qemu-img's where it refuses (external data file, -U) and are one line where we refuse more.
 */
import { strict as assert } from 'node:assert';
import { copyFileSync, readFileSync } from 'node:fs';
import { cli, createLuksImage, qemuImg, qemuIo, scratchDir, sha256File } from '../helpers/qemu';
import { qemuCheck } from '../helpers/workload';

const MiB = 1024 * 1024;

interface Kind {
  name: string;
  create: string[];
  size: string;
  /** qemu-io commands that fill the image before the snapshot. */
  fill: string[];
  backing?: boolean;
}

const KINDS: Kind[] = [
  {
    name: 'v3, 64 KiB clusters: data, zero and compressed clusters',
    create: ['-o', 'cluster_size=65536'],
    size: '64M',
    fill: ['write -P 0x11 0 3M', 'write -z 8M 1M', 'write -z -u 9M 128k', 'write -c -P 0x22 16M 64k', 'write -c -P 0x23 16640k 64k', 'write -P 0x33 40M 100k'],
  },
  {
    name: 'v2 (compat=0.10), 64 KiB clusters',
    create: ['-o', 'compat=0.10'],
    size: '32M',
    fill: ['write -P 0x41 0 1M', 'write -c -P 0x42 4M 64k', 'write -z 6M 256k', 'write -P 0x43 30M 12k'],
  },
  {
    name: 'v3, 512 B clusters (many L2 tables)',
    create: ['-o', 'cluster_size=512'],
    size: '8M',
    fill: ['write -P 0x51 0 300k', 'write -z 1M 64k', 'write -c -P 0x52 2M 512', 'write -P 0x53 7M 4k'],
  },
  {
    name: 'v3, 2 MiB clusters',
    create: ['-o', 'cluster_size=2M'],
    size: '256M',
    fill: ['write -P 0x61 0 5M', 'write -z 64M 4M', 'write -c -P 0x62 100M 2M', 'write -P 0x63 250M 1M'],
  },
  {
    name: 'v3, extended L2 (64 KiB clusters, 2 KiB subclusters)',
    create: ['-o', 'cluster_size=65536,extended_l2=on'],
    size: '32M',
    fill: ['write -P 0x71 0 5k', 'write -P 0x72 1M 256k', 'write -z 2M 64k', 'write -z 3M 6k', 'write -c -P 0x73 4M 64k'],
  },
  {
    name: 'top of a backing chain (partial clusters over the backing file)',
    create: [],
    size: '16M',
    fill: ['write -P 0x81 4k 4k', 'write -z 1M 64k', 'write -P 0x82 3M 1M'],
    backing: true,
  },
];

/** qemu-img snapshot -l's text with each date replaced, so two listings made at different times compare. */
function listing(image: string): string {
  return qemuImg(['snapshot', '-l', image]).stdout.replace(/\d{4}-\d\d-\d\d \d\d:\d\d:\d\d/g, 'YYYY-MM-DD hh:mm:ss');
}

function snapshotInfo(image: string): Array<Record<string, unknown>> {
  const j = JSON.parse(qemuImg(['info', '--output=json', '-U', image]).stdout);
  return (j.snapshots ?? []).map(({ 'date-sec': _s, 'date-nsec': _n, ...rest }: Record<string, unknown>) => rest);
}

function assertClean(image: string, label: string): void {
  const c = qemuCheck(image);
  assert.equal(c.code, 0, `${label}: qemu-img check is not clean:\n${c.raw}`);
}

describe('snapshot -c (internal snapshot creation, vs qemu-img 7.2)', function () {
  this.timeout(300_000);
  const tmp = scratchDir('q2i-snapc-');
  after(() => tmp.cleanup());

  KINDS.forEach((k, n) => {
    it(`${k.name}: check clean, listed as qemu-img lists its own, and the snapshot keeps the disk after more writes`, async () => {
      const img = tmp.path(`k${n}.qcow2`);
      if (k.backing) {
        const base = tmp.path(`k${n}-base.qcow2`);
        qemuImg(['create', '-q', '-f', 'qcow2', base, k.size]);
        qemuIo(base, ['write -P 0x0b 0 16M']);
        qemuImg(['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', ...k.create, img, k.size]);
      } else qemuImg(['create', '-q', '-f', 'qcow2', ...k.create, img, k.size]);
      qemuIo(img, k.fill);
      const before = tmp.path(`k${n}-before.raw`);
      qemuImg(['convert', '-O', 'raw', img, before]);
      const theirs = tmp.path(`k${n}-qemu.qcow2`);
      copyFileSync(img, theirs);

      const r = await cli(['snapshot', '-c', 'snap-one', img]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.length + r.stderr.length, 0, 'silent, as qemu-img');
      qemuImg(['snapshot', '-c', 'snap-one', theirs]);
      assertClean(img, 'after our snapshot');
      assert.equal(listing(img), listing(theirs));
      assert.deepEqual(snapshotInfo(img), snapshotInfo(theirs));
      const ours = await cli(['snapshot', '-l', img]);
      assert.equal(ours.stdout.toString(), qemuImg(['snapshot', '-l', img]).stdout);

      // More writes over everything the snapshot holds (qemu-io copies the shared clusters on write).
      qemuIo(img, ['write -P 0xee 0 2M', `write -z 1M ${k.size === '8M' ? '2M' : '4M'}`, 'write -P 0xef 3M 1M']);
      assertClean(img, 'after writes on top');
      const snap = tmp.path(`k${n}-snap.raw`);
      qemuImg(['convert', '-l', 'snapshot.name=snap-one', '-O', 'raw', img, snap]);
      assert.equal(sha256File(snap), sha256File(before), 'the snapshot reads as the disk before the writes');
      // A second snapshot over the changed disk, then both still read right.
      const now = tmp.path(`k${n}-now.raw`);
      qemuImg(['convert', '-O', 'raw', img, now]);
      assert.equal((await cli(['snapshot', '-c', 'snap-two', img])).code, 0);
      qemuIo(img, ['write -P 0xdd 0 1M']);
      assertClean(img, 'after a second snapshot and writes');
      qemuImg(['convert', '-l', 'snapshot.id=2', '-O', 'raw', img, snap]);
      assert.equal(sha256File(snap), sha256File(now));
      qemuImg(['convert', '-l', 'snapshot.id=1', '-O', 'raw', img, snap]);
      assert.equal(sha256File(snap), sha256File(before));
    });
  });

  it('50 snapshots in a row (some with writes between) stay clean, numbered 1..50, each reading its own state', async () => {
    const img = tmp.path('fifty.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', img, '4M']);
    const states = new Map<number, string>();
    for (let i = 1; i <= 50; i++) {
      if (i % 10 === 1) {
        qemuIo(img, [`write -P ${i} ${(i % 7) * 256}k 300k`]);
        const raw = tmp.path(`fifty-${i}.raw`);
        qemuImg(['convert', '-O', 'raw', img, raw]);
        states.set(i, sha256File(raw));
      }
      const r = await cli(['snapshot', '-c', `s${i}`, img]);
      assert.equal(r.code, 0, r.stderr);
    }
    assertClean(img, 'after 50 snapshots');
    const info = snapshotInfo(img);
    assert.deepEqual(
      info.map((s) => [s.id, s.name]),
      Array.from({ length: 50 }, (_, i) => [String(i + 1), `s${i + 1}`]),
    );
    for (const [i, hash] of states) {
      const raw = tmp.path('fifty-check.raw');
      qemuImg(['convert', '-l', `snapshot.name=s${i}`, '-O', 'raw', img, raw]);
      assert.equal(sha256File(raw), hash, `snapshot s${i}`);
    }
  });

  it('adds to a table qemu-img made (ids continue from the largest number; a duplicate name is allowed, as qemu-img allows it)', async () => {
    const img = tmp.path('mixed.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', img, '4M']);
    qemuImg(['snapshot', '-c', 'a', img]);
    qemuImg(['snapshot', '-c', 'b', img]);
    const theirs = tmp.path('mixed-qemu.qcow2');
    copyFileSync(img, theirs);
    assert.equal((await cli(['snapshot', '-c', 'a', img])).code, 0);
    qemuImg(['snapshot', '-c', 'a', theirs]);
    assert.equal(listing(img), listing(theirs));
    assertClean(img, 'mixed');
    // qemu-img cuts names at 255 bytes; an empty name is allowed.
    const long = 'n'.repeat(300);
    assert.equal((await cli(['snapshot', '-c', long, img])).code, 0);
    assert.equal((await cli(['snapshot', '-c', '', img])).code, 0);
    qemuImg(['snapshot', '-c', long, theirs]);
    qemuImg(['snapshot', '-c', '', theirs]);
    assert.equal(listing(img), listing(theirs));
  });

  describe('refusals (one line, exit 1, image unchanged)', () => {
    const unchanged = async (img: string, args: string[], pattern: RegExp): Promise<void> => {
      const hash = sha256File(img);
      const r = await cli(args);
      assert.equal(r.code, 1);
      assert.match(r.stderr, pattern);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(sha256File(img), hash, 'image unchanged');
    };

    it('an external data file: refused, as qemu-img refuses it (exit 1, "Operation not supported")', async () => {
      const img = tmp.path('df.qcow2');
      qemuImg(['create', '-q', '-f', 'qcow2', '-o', `data_file=${tmp.path('df.raw')}`, img, '4M']);
      qemuIo(img, ['write -P 1 0 1M']);
      const q = qemuImg(['snapshot', '-c', 's', img], true);
      assert.equal(q.code, 1);
      assert.match(q.stderr, /Could not create snapshot 's': .*Operation not supported/);
      await unchanged(img, ['snapshot', '-c', 's', img], /df\.qcow2: Could not create snapshot 's': Operation not supported/);
    });

    it('-U (force share), as qemu-img: only for read-only opens', async () => {
      const img = tmp.path('u.qcow2');
      qemuImg(['create', '-q', '-f', 'qcow2', img, '1M']);
      assert.equal(qemuImg(['snapshot', '-c', 's', '-U', img], true).code, 1);
      await unchanged(img, ['snapshot', '-c', 's', '-U', img], /force-share/);
    });

    it('an encrypted image, a read-only file, a raw file, -l with -c; an image with an enabled bitmap is fine, as for qemu-img', async () => {
      const enc = tmp.path('enc.qcow2');
      createLuksImage(enc, '1M');
      await unchanged(enc, ['snapshot', '-c', 's', enc], /encrypted/);
      const bm = tmp.path('bm.qcow2');
      qemuImg(['create', '-q', '-f', 'qcow2', bm, '1M']);
      qemuImg(['bitmap', '--add', bm, 'b0']);
      const bmTheirs = tmp.path('bm-qemu.qcow2');
      copyFileSync(bm, bmTheirs);
      assert.equal((await cli(['snapshot', '-c', 's', bm])).code, 0);
      qemuImg(['snapshot', '-c', 's', bmTheirs]);
      const shown = (f: string) => JSON.parse(qemuImg(['info', '--output=json', f]).stdout)['format-specific'].data.bitmaps;
      assert.deepEqual(shown(bm), shown(bmTheirs));
      assert.equal(qemuImg(['check', bm], true).code, 0);
      const raw = tmp.path('r.raw');
      qemuImg(['create', '-q', '-f', 'raw', raw, '1M']);
      await unchanged(raw, ['snapshot', '-c', 's', raw], /qcow2/);
      const plain = tmp.path('plain.qcow2');
      qemuImg(['create', '-q', '-f', 'qcow2', plain, '1M']);
      const r = await cli(['snapshot', '-l', '-c', 's', plain]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, /Cannot mix/);
      const { chmodSync } = await import('node:fs');
      chmodSync(plain, 0o444);
      try {
        // As root the file still opens for writing; otherwise the open is refused. Either way: no corruption.
        const rr = await cli(['snapshot', '-c', 's', plain]);
        if (rr.code !== 0) assert.equal(rr.stderr.trim().split('\n').length, 1);
        assertClean(plain, 'read-only file');
      } finally {
        chmodSync(plain, 0o644);
      }
      assert.ok(readFileSync(plain).length > 0);
    });
  });

  it('the engine refuses on a device opened read-only (snapshot and bitmap), and on a snapshot view', async () => {
    const { openImage, Qcow2Error } = await import('../../src/qcow2');
    const img = tmp.path('ro.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', img, '2M']);
    qemuImg(['snapshot', '-c', 'old', img]);
    const hash = sha256File(img);
    const dev = await openImage(img, { readOnly: true });
    try {
      if (dev.format !== 'qcow2') throw new Error('not qcow2');
      await assert.rejects(dev.createSnapshot('x'), (e: unknown) => e instanceof Qcow2Error && e.code === 'read-only');
      await assert.rejects(dev.addBitmap('x'), (e: unknown) => e instanceof Qcow2Error && e.code === 'read-only');
      const view = await dev.atSnapshot('old');
      await assert.rejects(view.createSnapshot('x'), (e: unknown) => e instanceof Qcow2Error && e.code === 'read-only');
    } finally {
      await dev.close();
    }
    assert.equal(sha256File(img), hash);
  });

  it('the engine: createSnapshot returns the entry, and the device reads the snapshot right away', async () => {
    const { openImage } = await import('../../src/qcow2');
    const img = tmp.path('engine.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', img, '2M']);
    qemuIo(img, ['write -P 0x5a 0 1M']);
    const dev = await openImage(img, { readOnly: false });
    try {
      if (dev.format !== 'qcow2') throw new Error('not qcow2');
      const snap = await dev.createSnapshot('live', { date: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)) });
      assert.equal(snap.id, '1');
      assert.equal(snap.dateSec, Date.UTC(2024, 0, 2, 3, 4, 5) / 1000);
      await dev.writeAt(new Uint8Array(MiB).fill(0xa5), 0);
      const view = await dev.atSnapshot('live');
      const got = new Uint8Array(MiB);
      await view.readAt(got, 0);
      assert.ok(got.every((b) => b === 0x5a));
    } finally {
      await dev.close();
    }
    assertClean(img, 'engine');
    const j = JSON.parse(qemuImg(['info', '--output=json', img]).stdout);
    assert.equal(j.snapshots[0]['date-sec'], Date.UTC(2024, 0, 2, 3, 4, 5) / 1000);
    assert.equal(j.snapshots[0]['date-nsec'], 678_000_000);
  });
});
