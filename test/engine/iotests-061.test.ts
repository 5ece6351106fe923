/**
 * Ports of qemu-iotests 061 (image option amendment), compared with qemu-img 7.2. We have no `amend`: each image
 * of the iotest is read by both tools before and after qemu-img amends it (info, check, map, snapshot list,
 * convert of the active disk and of each snapshot); checks and repairs of the dirty and feature-bit cases, and the
 * option combinations the iotest refuses, are compared with `create`.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { cli, qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { both, checkLines, copies, incompatLo, qemuIoCrash, sameConvert, sameViews, setFeatureBit } from './iotests-support';
import { qemuCheck } from './check-fixtures';

interface Case {
  name: string;
  /** Builds the image at `p` (and a backing file at `p + '.base'` if it needs one). */
  build(p: string): void;
  /** The `qemu-img amend -o` options of the iotest. */
  amend: string;
  snapshot?: string;
}

const mk = (p: string, size: string, opts = 'compat=1.1', backing?: string): void => {
  qemuImg(['create', '-q', '-f', 'qcow2', '-o', opts, ...(backing ? ['-b', backing, '-F', 'qcow2'] : []), p, size]);
};

/** A base image with 128 KiB of 0x2a, and `p` on top of it. */
const backed = (p: string): void => {
  mk(`${p}.base`, '64M');
  qemuIo(`${p}.base`, ['write -P 0x2a 0 128k']);
  mk(p, '64M', 'compat=1.1', `${p}.base`);
};

const CASES: Case[] = [
  {
    name: 'zero clusters on a lazy-refcounts v3 image (downgrade with zero expansion)',
    build: (p) => {
      mk(p, '64M', 'compat=1.1,lazy_refcounts=on');
      qemuIo(p, ['write -z 0 128k']);
    },
    amend: 'compat=0.10',
  },
  {
    name: 'version upgrade and resize of a v2 image with data at 42 MiB',
    build: (p) => {
      mk(p, '64M', 'compat=0.10');
      qemuIo(p, ['write -P 0x2a 42M 64k']);
    },
    amend: 'compat=1.1,lazy_refcounts=on,size=128M',
  },
  {
    name: 'zero clusters in an inactive snapshot, data in the active layer',
    build: (p) => {
      mk(p, '64M');
      qemuIo(p, ['write -z 0 128k']);
      qemuImg(['snapshot', '-c', 'foo', p]);
      qemuIo(p, ['write -P 0x2a 0 128k']);
    },
    amend: 'compat=0.10',
    snapshot: 'foo',
  },
  {
    name: 'zero clusters in an L2 table shared with a snapshot',
    build: (p) => {
      mk(p, '64M');
      qemuIo(p, ['write -z 0 128k']);
      qemuImg(['snapshot', '-c', 'foo', p]);
    },
    amend: 'compat=0.10',
    snapshot: 'foo',
  },
  {
    name: 'a zero cluster hiding backing data',
    build: (p) => {
      backed(p);
      qemuIo(p, ['write -z 0 64k']);
    },
    amend: 'compat=0.10',
  },
  {
    name: 'a zero cluster over backing data in an inactive snapshot',
    build: (p) => {
      backed(p);
      qemuIo(p, ['write -z 0 64k']);
      qemuImg(['snapshot', '-c', 'foo', p]);
      qemuIo(p, ['write -P 0x42 0 128k']);
    },
    amend: 'compat=0.10',
    snapshot: 'foo',
  },
  {
    name: 'zero clusters over backing data in an L2 table shared with a snapshot',
    build: (p) => {
      backed(p);
      qemuIo(p, ['write -z 0 128k']);
      qemuImg(['snapshot', '-c', 'foo', p]);
    },
    amend: 'compat=0.10',
    snapshot: 'foo',
  },
  {
    name: 'preallocated zero clusters over a fully written image (8 MiB)',
    build: (p) => {
      mk(p, '8M');
      qemuIo(p, ['write -P 0x2a 0 8M', 'write -z 0 8M']);
    },
    amend: 'compat=0.10',
  },
];

describe('iotest 061: images before and after qemu-img amend, compared with qemu-img 7.2', function () {
  this.timeout(30_000);
  const dir = scratchDir('q2i-iotests-061-');
  after(() => dir.cleanup());

  /** The JSON views and the snapshot list only (the text views are compared by the other iotests): CI time is tight. */
  const JSON_VIEWS = [
    ['info', '--output=json'],
    ['check', '--output=json'],
    ['map', '--output=json'],
    ['snapshot', '-l'],
  ];

  async function sameAll(p: string, snapshot?: string, views = JSON_VIEWS): Promise<void> {
    await sameViews(p, views);
    await sameConvert(p, dir.path);
    if (snapshot) await sameConvert(p, dir.path, ['-l', `snapshot.name=${snapshot}`]);
  }

  CASES.forEach((c, i) =>
    it(c.name, async () => {
      const p = dir.path(`img-${i}.qcow2`);
      c.build(p);
      await sameAll(p, c.snapshot);
      qemuImg(['amend', '-o', c.amend, p]);
      await sameAll(p, c.snapshot);
      assert.equal(qemuCheck(p).code, 0, 'clean after amend');
    }),
  );

  it('backing file: qemu-img 7.2 refuses to amend it ("use rebase"); our rebase -u sets it as qemu-img rebase -u does', async () => {
    const base = dir.path('rebase.base');
    mk(base, '64M');
    qemuIo(base, ['write -P 0x2a 0 128k']);
    const [ref, ours] = copies((mk(dir.path('rebase.qcow2'), '64M'), dir.path('rebase.qcow2')), dir.path('rebase-q.qcow2'), dir.path('rebase-o.qcow2'));
    const amend = qemuImg(['amend', '-o', `backing_file=${base},backing_fmt=qcow2`, ref], true);
    assert.equal(amend.code, 1);
    assert.match(amend.stderr, /Cannot amend the backing file/);
    qemuImg(['rebase', '-u', '-b', base, '-F', 'qcow2', ref]);
    const r = await cli(['rebase', '-u', '-b', base, '-F', 'qcow2', ours]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(ours).equals(readFileSync(ref)), "same bytes as qemu-img's rebase");
    await sameAll(ours);
    qemuIo(ours, ['read -P 0x2a 0 128k']);
  });

  it('dirty lazy-refcounts image (qemu-io aborted): check and -r all as qemu-img; then amended by qemu-img to v2 and to lazy_refcounts=off', async () => {
    const src = dir.path('dirty.qcow2');
    mk(src, '64M', 'compat=1.1,lazy_refcounts=on');
    qemuIoCrash(src, ['write -P 0x2a 0 128k', 'flush'], 'abort');
    assert.equal(incompatLo(src) & 1, 1, 'dirty');
    await sameAll(src);
    const lines = await checkLines(src, src);
    assert.deepEqual(lines.o, lines.q);
    const [ref, ours] = copies(src, dir.path('dirty-q.qcow2'), dir.path('dirty-o.qcow2'));
    await both(['check', '-r', 'all'], ref, ours);
    assert.equal(incompatLo(ours) & 1, 0, 'dirty bit cleared');
    await both(['check', '--output=json'], ref, ours);
    for (const amend of ['compat=0.10', 'lazy_refcounts=off']) {
      const p = dir.path(`dirty-${amend}.qcow2`);
      copies(src, p, p);
      qemuImg(['amend', '-o', amend, p]);
      await sameAll(p);
      qemuIo(p, ['read -P 0x2a 0 128k']);
    }
  });

  it('unknown compatible and autoclear bit 42: read as qemu-img; check -r all clears only the autoclear bit, as qemu-img', async () => {
    const src = dir.path('bits42.qcow2');
    mk(src, '64M');
    setFeatureBit(src, 'compatible', 42);
    setFeatureBit(src, 'autoclear', 42);
    await sameAll(src);
    const [ref, ours] = copies(src, dir.path('bits42-q.qcow2'), dir.path('bits42-o.qcow2'));
    await both(['check', '-r', 'all'], ref, ours);
    assert.ok(readFileSync(ours).equals(readFileSync(ref)), "same bytes as qemu-img's repaired file");
    assert.equal(readFileSync(ours).readUInt8(80 + 7 - 5), 4, 'compatible bit 42 kept');
    assert.equal(readFileSync(ours).readUInt8(88 + 7 - 5), 0, 'autoclear bit 42 cleared');
  });

  it('option combinations the iotest refuses are refused by create as by qemu-img', async () => {
    const cases = ['compat=0.10,lazy_refcounts=on', 'compat=0.42', 'foo=bar', 'compat=0.10,refcount_bits=8', 'cluster_size=1k,compat=0.10,extended_l2=on'];
    for (const [i, opts] of cases.entries()) {
      const q = qemuImg(['create', '-q', '-f', 'qcow2', '-o', opts, dir.path(`bad-q-${i}.qcow2`), '64M'], true);
      const o = await cli(['create', '-q', '-f', 'qcow2', '-o', opts, dir.path(`bad-o-${i}.qcow2`), '64M']);
      assert.equal(q.code, 1, `qemu-img refuses ${opts}`);
      assert.equal(o.code, 1, `ours refuses ${opts}: ${o.stderr}`);
      assert.equal(o.stderr.trim().split('\n')[0].startsWith('qcow2-inspector: '), true, o.stderr);
    }
  });
});
