import { strict as assert } from 'node:assert';
import { NodeFileIo, openImage, Qcow2Error, type Qcow2IoOps } from '../../src/qcow2';
import { qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { assertClean, assertEqualsModel, pattern, randomWrites, withImage } from './write-support';

/** Virtual size as qemu-img reports it (rounded up to 512 bytes). */
function qemuImgSize(img: string): number {
  return JSON.parse(qemuImg(['info', '--output=json', img]).stdout)['virtual-size'];
}

describe('engine write path: plain images', function () {
  const tmp = scratchDir('q2i-write-');
  after(() => tmp.cleanup());

  const kinds: Array<{ name: string; opts: string; size: number; writes: number; maxLen: number }> = [
    { name: 'v3, 64 KiB clusters', opts: 'cluster_size=65536', size: 64 << 20, writes: 200, maxLen: 300 * 1024 },
    { name: 'v2 (compat=0.10)', opts: 'compat=0.10', size: 32 << 20, writes: 100, maxLen: 200 * 1024 },
    { name: '512 B clusters (refcount table growth)', opts: 'cluster_size=512', size: 8 << 20, writes: 150, maxLen: 64 * 1024 },
    { name: '2 MiB clusters', opts: 'cluster_size=2097152', size: 64 << 20, writes: 60, maxLen: 300 * 1024 },
    { name: 'refcount_bits=1', opts: 'refcount_bits=1,cluster_size=4096', size: 16 << 20, writes: 120, maxLen: 100 * 1024 },
    { name: 'refcount_bits=64', opts: 'refcount_bits=64,cluster_size=4096', size: 16 << 20, writes: 120, maxLen: 100 * 1024 },
    { name: 'lazy refcounts (clean)', opts: 'lazy_refcounts=on', size: 32 << 20, writes: 80, maxLen: 100 * 1024 },
  ];
  for (const k of kinds) {
    it(`random writes on ${k.name}: check clean, contents equal the model`, async () => {
      const img = tmp.path(`${k.name.replace(/\W+/g, '_')}.qcow2`);
      qemuImg(['create', '-f', 'qcow2', '-o', k.opts, img, String(k.size)]);
      const model = new Uint8Array(k.size);
      await withImage(img, (dev) => randomWrites(dev, model, 7, { writes: k.writes, maxLen: k.maxLen, flushEvery: 37 }));
      assertClean(img);
      assertEqualsModel(img, model, tmp.path('model.raw'));
    });
  }

  it('grows the refcount table past many refblocks (512 B clusters, small L2 cache)', async () => {
    const img = tmp.path('grow.qcow2');
    qemuImg(['create', '-f', 'qcow2', '-o', 'cluster_size=512', img, String(64 << 20)]);
    const before = JSON.parse(qemuImg(['info', '--output=json', img]).stdout);
    const model = new Uint8Array(64 << 20);
    const dev = await openImage(img, { l2CacheSlices: 4, refblockCacheSlices: 4 });
    try {
      // 8 MiB of sequential data: ~16k clusters, 64+ refblocks of 256 entries.
      for (let off = 0; off < 8 << 20; off += 1 << 20) {
        const b = pattern(1 << 20, off);
        await dev.writeAt(b, off);
        model.set(b, off);
      }
      await randomWrites(dev, model, 3, { writes: 200, maxLen: 5000 });
      assert.ok(dev.header.refcountTableClusters > 1, 'refcount table grew');
    } finally {
      await dev.close();
    }
    assert.ok(before['actual-size'] > 0);
    assertClean(img);
    assertEqualsModel(img, model, tmp.path('model.raw'));
  });

  it('writes above 4 GiB on a 4 TiB image', async () => {
    const img = tmp.path('big.qcow2');
    qemuImg(['create', '-f', 'qcow2', img, '4T']);
    const offs = [2 ** 32 - 3000, 2 ** 40 + 12345, 4 * 2 ** 40 - 70000];
    await withImage(img, async (dev) => {
      for (const [i, off] of offs.entries()) await dev.writeAt(pattern(65536, i), off);
    });
    assertClean(img);
    for (const [i, off] of offs.entries()) {
      const got = new Uint8Array(65536);
      await withImage(img, (dev) => dev.readAt(got, off));
      assert.deepEqual(got, pattern(65536, i));
      qemuIo(img, [`read -P ${pattern(1, i)[0]} ${off} 1`], ['-r', '-f', 'qcow2']);
    }
  });

  it('needFlushMeta reports pending metadata; flushMeta clears it', async () => {
    const img = tmp.path('flag.qcow2');
    qemuImg(['create', '-f', 'qcow2', img, '16M']);
    await withImage(img, async (dev) => {
      assert.equal(dev.needFlushMeta(), false);
      await dev.writeAt(pattern(4096, 1), 1 << 20);
      assert.equal(dev.needFlushMeta(), true);
      await dev.flushMeta();
      assert.equal(dev.needFlushMeta(), false);
      // Overwriting allocated data needs no metadata.
      await dev.writeAt(pattern(100, 2), (1 << 20) + 10);
      assert.equal(dev.needFlushMeta(), false);
      await dev.writeAt(pattern(4096, 3), 5 << 20);
      await dev.fsyncRange(5 << 20, 4096);
      assert.equal(dev.needFlushMeta(), false);
      await dev.writeAt(pattern(4096, 4), 9 << 20);
      await dev.shrinkCaches();
      assert.equal(dev.needFlushMeta(), false);
      assert.ok(dev.l2CacheIsEmpty() && dev.refblockCacheIsEmpty());
    });
    assertClean(img);
  });

  it('concurrent writeAt and readAt calls are safe', async () => {
    const img = tmp.path('conc.qcow2');
    const size = 16 << 20;
    qemuImg(['create', '-f', 'qcow2', img, String(size)]);
    const model = new Uint8Array(size);
    await withImage(img, async (dev) => {
      const jobs: Promise<unknown>[] = [];
      for (let i = 0; i < 64; i++) {
        const off = ((i * 37) % 200) * 70001;
        const b = pattern(50000, i);
        model.set(b, off);
        jobs.push(dev.writeAt(b, off));
        jobs.push(dev.readAt(new Uint8Array(70000), off));
      }
      await Promise.all(jobs);
    });
    assertClean(img);
    assertEqualsModel(img, model, tmp.path('model.raw'));
  });

  it('reads that evict L2 slices while writes wait for allocation lose no update (small cache)', async () => {
    const img = tmp.path('evict.qcow2');
    const size = 64 << 20;
    qemuImg(['create', '-f', 'qcow2', '-o', 'cluster_size=4096', img, String(size)]);
    const model = new Uint8Array(size);
    // Data writes take a while, so reads (and their slice loads) run while a write holds a fetched slice.
    const openIo = async (p: string, ro: boolean): Promise<Qcow2IoOps> => {
      const io = await NodeFileIo.open(p, ro);
      const write = io.writeAt.bind(io);
      io.writeAt = async (b: Uint8Array, o: number) => {
        if (b.length > 4096) await new Promise((r) => setTimeout(r, 2));
        return write(b, o);
      };
      return io;
    };
    const dev = await openImage(img, { l2CacheSlices: 8, refblockCacheSlices: 1, openIo });
    try {
      // Every L2 table exists, so each read loads (and may evict) a slice.
      for (let off = 0; off < size; off += 2 << 20) {
        await dev.writeAt(pattern(1, off), off);
        model.set(pattern(1, off), off);
      }
      await dev.flushMeta();
      const jobs: Promise<unknown>[] = [];
      for (let i = 0; i < 300; i++) {
        const off = ((i * 7919) % 2000) * 4000; // writes in the first 4 L2 tables, reads in the others
        const b = pattern(9000, i);
        model.set(b, off);
        jobs.push(dev.writeAt(b, off));
        for (let k = 0; k < 4; k++) jobs.push(dev.readAt(new Uint8Array(512), (4 + ((i * 104729 + k * 7) % 28)) * (2 << 20)));
        if (i % 50 === 0) jobs.push(dev.flushMeta());
      }
      await Promise.all(jobs);
    } finally {
      await dev.close();
    }
    assertClean(img);
    assertEqualsModel(img, model, tmp.path('model.raw'));
  });

  for (const opts of ['cluster_size=65536', 'cluster_size=65536,extended_l2=on', 'data_file=DATA']) {
    it(`writes the partial last cluster of an unaligned virtual size (${opts.replace('DATA', 'data file')})`, async () => {
      const img = tmp.path('tail.qcow2');
      const size = 1_000_001;
      qemuImg(['create', '-f', 'qcow2', '-o', opts.replace('DATA', tmp.path('tail.data')), img, String(size)]);
      const model = new Uint8Array(qemuImgSize(img));
      await withImage(img, async (dev) => {
        for (const [i, [off, len]] of [
          [size - 1, 1],
          [size - 5000, 5000],
          [983040, 100],
          [0, 70000],
        ].entries()) {
          const b = pattern(len, i + 40);
          await dev.writeAt(b, off);
          model.set(b, off);
        }
      });
      assertClean(img);
      assertEqualsModel(img, model, tmp.path('model.raw'));
    });
  }

  it('one 20 MiB write across many L2 tables over a backing file (4 KiB clusters)', async () => {
    const base = tmp.path('bigw-base.qcow2');
    const img = tmp.path('bigw.qcow2');
    const size = 32 << 20;
    qemuImg(['create', '-f', 'qcow2', '-o', 'cluster_size=4096', base, String(size)]);
    qemuIo(base, ['write -P 7 0 32M'], ['-f', 'qcow2']);
    qemuImg(['create', '-f', 'qcow2', '-o', 'cluster_size=4096', '-b', base, '-F', 'qcow2', img]);
    const model = new Uint8Array(size).fill(7);
    const b = pattern(20 << 20, 9);
    await withImage(img, (dev) => dev.writeAt(b, 3 * 4096 + 123));
    model.set(b, 3 * 4096 + 123);
    assertClean(img);
    assertEqualsModel(img, model, tmp.path('model.raw'));
  });

  it('rejects writes beyond the virtual size', async () => {
    const img = tmp.path('range.qcow2');
    qemuImg(['create', '-f', 'qcow2', img, '1M']);
    await withImage(img, async (dev) => {
      await assert.rejects(dev.writeAt(new Uint8Array(10), (1 << 20) - 5), (e: Qcow2Error) => e.code === 'range');
    });
  });
});
