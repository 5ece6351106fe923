/**
 * Writes keep enabled persistent dirty bitmaps consistent (write/bitmap-tracking.ts), checked against QEMU: a seeded
 * random workload goes through our engine (writeAt, writeZeroes) and our CLI (`write`, `write -z`) over several
 * open/close sessions, and the same writes through qemu-io on a copy. Then, for every bitmap, qemu-nbd + nbdinfo
 * read the same dirty ranges from both images, our `bitmap --dump` reads them too, `qemu-img info` shows the same
 * flags, `qemu-img check` is clean and `qemu-img compare` finds the disks identical. Disabled bitmaps and bitmaps
 * left in use by a crash are not changed, as in QEMU.
 */
import { strict as assert } from 'node:assert';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { openImage } from '../../src/qcow2/open';
import { cli, qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { haveNbdinfo, markedRanges, nbdDirty, type Range } from '../helpers/nbd';
import { genWorkload, opData, qemuIoApply, type WriteOp } from '../helpers/workload';

interface Case {
  name: string;
  size: number;
  create: string[];
  /** [name, qemu-img bitmap --add options] */
  bitmaps: Array<[string, string[]]>;
  seed: number;
}

const M = 2 ** 20;
const CASES: Case[] = [
  {
    name: '64 KiB clusters; enabled bitmaps at 64 KiB and 4 KiB, one disabled',
    size: 96 * M,
    create: [],
    bitmaps: [
      ['g64k', []],
      ['g4k', ['-g', '4k']],
      ['off', ['--disable']],
    ],
    seed: 1401,
  },
  {
    name: '4 KiB clusters; enabled bitmaps at 4 KiB and 512 B (a table of 3 entries, 16 MiB each), one disabled',
    size: 40 * M,
    create: ['-o', 'cluster_size=4096'],
    bitmaps: [
      ['only', []],
      ['fine', ['-g', '512']],
      ['frozen', ['--disable', '-g', '64k']],
    ],
    seed: 1402,
  },
];

function info(image: string): Array<{ name: string; flags: string[]; granularity: number }> {
  return JSON.parse(qemuImg(['info', '--output=json', image]).stdout)['format-specific'].data.bitmaps;
}

async function dump(image: string, name: string): Promise<Range[]> {
  const r = await cli(['bitmap', '--dump', '--output=json', image, name]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout.toString()) as Range[];
}

describe('writes mark enabled persistent dirty bitmaps (vs qemu-io, qemu-nbd + nbdinfo)', function () {
  this.timeout(300_000);
  const tmp = scratchDir('q2i-bmwrite-');
  after(() => tmp.cleanup());
  before(function () {
    if (!haveNbdinfo) throw new Error('nbdinfo is missing (apt-get install libnbd-bin; .ci/run installs it)');
  });

  CASES.forEach((c, k) => {
    it(`${c.name}: same bits, flags and disk as QEMU doing the same writes`, async () => {
      const ours = tmp.path(`ours${k}.qcow2`);
      const theirs = tmp.path(`theirs${k}.qcow2`);
      qemuImg(['create', '-q', '-f', 'qcow2', ...c.create, ours, String(c.size)]);
      // Bits from before (qemu-io marks them), so stored clusters merge old and new bits.
      qemuIo(ours, ['write -P 9 0 100k', `write -P 9 ${c.size - 3 * M} 1M`]);
      for (const [name, opts] of c.bitmaps) qemuImg(['bitmap', '--add', ...opts.filter((o) => o !== '--disable'), ours, name]);
      qemuIo(ours, ['write -P 8 5M 300k', 'write -z 20M 64k']);
      // The disabled ones hold those bits, and must keep exactly them.
      for (const [name, opts] of c.bitmaps) if (opts.includes('--disable')) qemuImg(['bitmap', '--disable', ours, name]);
      copyFileSync(ours, theirs);

      const cs = c.create.length ? 4096 : 65536;
      const ops = genWorkload(c.seed, { virtualSize: c.size, clusterSize: cs, l2Span: (cs / 8) * cs }, { count: 60, maxLength: 2 * M });
      // Session 1: engine writes and zero writes; session 2: CLI write; session 3: CLI write -z; session 4: engine.
      const engine = async (list: WriteOp[]) => {
        const dev = await openImage(ours, { readOnly: false, l2CacheSlices: 4 });
        try {
          for (const op of list) {
            if (op.dataSeed === 0) await dev.writeZeroes(op.offset, op.length);
            else await dev.writeAt(opData(op), op.offset);
          }
        } finally {
          await dev.close();
        }
      };
      await engine(ops.slice(0, 25));
      for (const [i, op] of ops.slice(25, 35).entries()) {
        const f = tmp.path(`in${i}.bin`);
        writeFileSync(f, opData(op));
        const r =
          op.dataSeed === 0
            ? await cli(['write', '-q', '-z', ours, String(op.offset), String(op.length)])
            : await cli(['write', '-q', ours, String(op.offset), f]);
        assert.equal(r.code, 0, r.stderr);
      }
      await engine(ops.slice(35));
      qemuIoApply(theirs, ops, tmp.path);

      const chk = qemuImg(['check', ours], true);
      assert.equal(chk.code, 0, chk.stdout + chk.stderr);
      assert.match(chk.stdout, /No errors were found/);
      assert.equal(qemuImg(['compare', ours, theirs], true).code, 0);
      assert.deepEqual(info(ours), info(theirs));
      for (const [name] of c.bitmaps) {
        const want = await nbdDirty(theirs, name, tmp.path('t.sock'));
        const got = await nbdDirty(ours, name, tmp.path('o.sock'));
        assert.ok(want.length > 0, name);
        assert.deepEqual(got, want, `bitmap ${name}: nbdinfo on our image vs on qemu-io's`);
        assert.deepEqual(await dump(ours, name), want, `bitmap ${name}: our bitmap --dump vs nbdinfo`);
      }
    });
  });

  it('concurrent writes (fast in-place overwrites among them) are all marked', async () => {
    const img = tmp.path('conc.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', img, '32M']);
    qemuImg(['bitmap', '--add', '-g', '4k', img, 'c']);
    const ops = genWorkload(1403, { virtualSize: 32 * M, clusterSize: 65536, l2Span: 8192 * 65536 }, { count: 80, maxLength: 200_000 });
    const dev = await openImage(img, { readOnly: false });
    try {
      // First allocate, then overwrite the same places all at once: most overwrites take the lock-free path.
      await Promise.all(ops.slice(0, 40).map((op) => dev.writeAt(opData(op), op.offset)));
      await dev.flushMeta();
      await Promise.all(ops.map((op) => dev.writeAt(opData(op), op.offset)));
    } finally {
      await dev.close();
    }
    assert.deepEqual(await nbdDirty(img, 'c', tmp.path('conc.sock')), markedRanges([], ops, 4096, 32 * M));
    assert.equal(qemuImg(['check', img], true).code, 0);
  });

  it('a repair between writes stores the bitmaps first (in use cleared), and the writes after it are tracked anew', async () => {
    const img = tmp.path('repair.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', img, '16M']);
    qemuImg(['bitmap', '--add', img, 'r']);
    const dev = await openImage(img, { readOnly: false });
    try {
      await dev.writeAt(new Uint8Array(3000).fill(1), 200_000);
      assert.deepEqual(dev.bitmaps[0].flagNames, ['in-use', 'auto']);
      const res = await dev.check({ repair: 'all' });
      assert.equal(res.summary.corruptions, 0);
      assert.deepEqual(info(img)[0].flags, ['auto']);
      await dev.writeAt(new Uint8Array(3000).fill(2), 9 * M);
    } finally {
      await dev.close();
    }
    const writes = [
      { offset: 200_000, length: 3000 },
      { offset: 9 * M, length: 3000 },
    ];
    assert.deepEqual(await nbdDirty(img, 'r', tmp.path('r.sock')), markedRanges([], writes, 65536, 16 * M));
    assert.equal(qemuImg(['check', img], true).code, 0);
  });

  it('a bitmap added while writes are tracked records the writes after it; --add then write through the CLI too', async () => {
    const img = tmp.path('add.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', img, '16M']);
    qemuImg(['bitmap', '--add', img, 'first']);
    const dev = await openImage(img, { readOnly: false });
    try {
      await dev.writeAt(new Uint8Array(1000).fill(1), 70_000);
      await dev.addBitmap('second', { granularity: 4096 });
      assert.deepEqual(dev.bitmaps.find((b) => b.name === 'second')?.flagNames, ['in-use', 'auto']);
      await dev.writeAt(new Uint8Array(5000).fill(2), 3 * M + 100);
    } finally {
      await dev.close();
    }
    assert.deepEqual(
      await nbdDirty(img, 'first', tmp.path('a.sock')),
      markedRanges(
        [],
        [
          { offset: 70_000, length: 1000 },
          { offset: 3 * M + 100, length: 5000 },
        ],
        65536,
        16 * M,
      ),
    );
    assert.deepEqual(await nbdDirty(img, 'second', tmp.path('b.sock')), markedRanges([], [{ offset: 3 * M + 100, length: 5000 }], 4096, 16 * M));
    assert.equal(qemuImg(['check', img], true).code, 0);
    // The CLI: bitmap --add, then write (each its own open and close).
    assert.equal((await cli(['bitmap', '--add', '-g', '16k', img, 'third'])).code, 0);
    const f = tmp.path('x.bin');
    writeFileSync(f, new Uint8Array(40_000).fill(3));
    assert.equal((await cli(['write', '-q', img, String(9 * M - 5), f])).code, 0);
    assert.deepEqual(await dump(img, 'third'), markedRanges([], [{ offset: 9 * M - 5, length: 40_000 }], 16384, 16 * M));
    assert.deepEqual(await dump(img, 'third'), await nbdDirty(img, 'third', tmp.path('c.sock')));
    assert.deepEqual(
      info(img).map((b) => b.flags),
      [['auto'], ['auto'], ['auto']],
    );
  });

  it('a bitmap left in use by a crash: check as qemu-img (clean, also with -r all), and writes leave it in use, as qemu-io does', async () => {
    const img = tmp.path('inuse.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', img, '8M']);
    qemuImg(['bitmap', '--add', img, 'stale']);
    qemuImg(['bitmap', '--add', img, 'live']);
    // A crash after the in-use flag was set: our writer marks it, and the process dies before close.
    const dev = await openImage(img, { readOnly: false });
    await dev.writeAt(new Uint8Array(512).fill(4), 4096);
    await dev.flushMeta();
    const crashed = new Uint8Array(readFileSync(img));
    await dev.close();
    writeFileSync(img, crashed);
    assert.deepEqual(
      info(img).map((b) => b.flags),
      [
        ['in-use', 'auto'],
        ['in-use', 'auto'],
      ],
    );
    for (const repair of [[], ['-r', 'all']]) {
      const copy = tmp.path(`c${repair.length}.qcow2`);
      copyFileSync(img, copy);
      const q = qemuImg(['check', ...repair, copy], true);
      const ourCopy = tmp.path(`o${repair.length}.qcow2`);
      copyFileSync(img, ourCopy);
      const o = await cli(['check', ...repair, ourCopy]);
      assert.equal(o.code, q.code, `check ${repair.join(' ')}: ${o.stdout}${o.stderr} vs ${q.stdout}`);
      assert.equal(o.stdout.toString(), q.stdout.replaceAll(copy, ourCopy));
      assert.deepEqual(info(ourCopy), info(copy));
    }
    const theirs = tmp.path('inuse-theirs.qcow2');
    copyFileSync(img, theirs);
    const o2 = await openImage(img, { readOnly: false });
    await o2.writeAt(new Uint8Array(70_000).fill(5), 2 * M);
    await o2.close();
    qemuIo(theirs, [`write -P 5 ${2 * M} 70000`]);
    assert.deepEqual(info(img), info(theirs));
    assert.equal(qemuImg(['check', img], true).code, 0);
    const r = await cli(['bitmap', '--dump', img, 'live']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /marked in use: it is inconsistent/);
  });

  it('refuses, in one line and before writing anything, bitmaps whose bits would take more memory than the limit', async () => {
    const img = tmp.path('huge.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', img, '1T']);
    qemuImg(['bitmap', '--add', '-g', '512', img, 'fine']);
    const before = readFileSync(img);
    const f = tmp.path('one.bin');
    writeFileSync(f, new Uint8Array(512));
    const r = await cli(['write', img, '0', f]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^[^\n]*tracking writes in the enabled persistent dirty bitmaps \('fine'\) would take 256 MiB of memory \(limit 64 MiB\)[^\n]*\n$/);
    assert.ok(readFileSync(img).equals(before), 'the image changed');
    // While writes are tracked, adding a bitmap that would pass the limit is refused before anything is written.
    const other = tmp.path('huge2.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', other, '1T']);
    qemuImg(['bitmap', '--add', other, 'coarse']);
    const dev = await openImage(other, { readOnly: false });
    try {
      await dev.writeAt(new Uint8Array(512).fill(1), 0);
      await assert.rejects(dev.addBitmap('fine', { granularity: 512 }), /\('coarse', 'fine'\) would take 258 MiB of memory \(limit 64 MiB\)/);
    } finally {
      await dev.close();
    }
    assert.deepEqual(
      info(other).map((b) => [b.name, b.flags]),
      [['coarse', ['auto']]],
    );
    assert.deepEqual(await dump(other, 'coarse'), [{ start: 0, length: 65536 }]);
  });
});
