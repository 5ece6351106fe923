/**
 * Engine read edge cases: readAt across L2 tables, compressed and unaligned ranges, past the backing
 * file's end, past the virtual size; getMapping against qemu-img map. The reference bytes are
 * `qemu-img convert -O raw` of the same image.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openImage, Qcow2Error, type Qcow2Dev } from '../../src/qcow2';
import { mapEntries } from '../../src/qcow2/read/map';
import { qemuImg, scratchDir } from '../helpers/qemu';
import { makeQcow2, makeRaw, prng } from '../helpers/images';
import { resetSeekAddon, seekAddon } from '../../src/qcow2/io/holes';

function qemuRaw(image: string, out: string): Buffer {
  qemuImg(['convert', '-O', 'raw', image, out]);
  return readFileSync(out);
}

async function withDev<T>(path: string, fn: (dev: Qcow2Dev) => Promise<T>, opts = {}): Promise<T> {
  const dev = await openImage(path, { readOnly: true, ...opts });
  try {
    return await fn(dev);
  } finally {
    await dev.close();
  }
}

describe('engine reads: edge cases', function () {
  this.timeout(60_000);
  const tmp = scratchDir('q2i-read-edges-');
  after(() => tmp.cleanup());

  it('a read spanning many L2 tables (512 B clusters: one table covers 32 KiB) equals qemu-img', async () => {
    const img = makeQcow2(tmp.path('small-l2.qcow2'), { size: '1M', o: { cluster_size: 512 } }, [
      'write -P 1 0 40k',
      'write -P 2 60k 100k',
      'write -z 70k 3k',
      'write -c -P 3 200k 512',
    ]);
    const ref = qemuRaw(img, tmp.path('small-l2.raw'));
    await withDev(
      img,
      async (dev) => {
        assert.equal(dev.info.l1EntrySpan, 32 * 1024);
        const buf = new Uint8Array(300 * 1024);
        await dev.readAt(buf, 1000); // unaligned start, crosses ~10 L2 tables
        assert.ok(Buffer.from(buf).equals(ref.subarray(1000, 1000 + buf.length)));
      },
      { l2CacheSlices: 2 },
    ); // a tiny cache forces evictions mid-read
  });

  it('concurrent reads through a one-slice L2 cache (evicted buffers are reused) equal qemu-img', async () => {
    // 512 B clusters: 64 L2 entries per table, so 2 MiB of guest data spans 64 tables; one cached slice at a
    // time forces an eviction (and the reuse of the evicted buffer) on nearly every lookup.
    const img = makeQcow2(tmp.path('recycle.qcow2'), { size: '2M', o: { cluster_size: 512 } }, [
      'write -P 1 0 700k',
      'write -z 300k 20k',
      'write -P 2 900k 600k',
      'write -c -P 3 1600k 64k',
    ]);
    const ref = qemuRaw(img, tmp.path('recycle.raw'));
    const rnd = prng(7);
    await withDev(
      img,
      async (dev) => {
        const one = async () => {
          for (let i = 0; i < 40; i++) {
            const off = Math.floor(rnd() * ref.length);
            const buf = new Uint8Array(Math.min(ref.length - off, 1 + Math.floor(rnd() * 70_000)));
            await dev.readAt(buf, off);
            assert.ok(Buffer.from(buf).equals(ref.subarray(off, off + buf.length)), `read of ${buf.length} at ${off}`);
          }
        };
        await Promise.all(Array.from({ length: 16 }, one));
        const entries = [];
        for await (const e of mapEntries(dev)) entries.push(e);
        assert.deepEqual(
          entries,
          JSON.parse(qemuImg(['map', '--output=json', img]).stdout).map((e: object) => ({ ...e, ...('offset' in e ? { file: img } : {}) })),
        );
      },
      { l2CacheSlices: 1 },
    );
  });

  it('seeded random unaligned reads equal qemu-img convert (compressed, zero, extended L2, chain)', async () => {
    const base = makeQcow2(tmp.path('rb.qcow2'), { size: '2M' }, ['write -P 5 0 1536k', 'write -c -P 6 1536k 64k']);
    const img = makeQcow2(tmp.path('rt.qcow2'), { size: '3M', backing: base, o: { extended_l2: true } }, [
      'write -P 7 1k 3k',
      'write -z 70k 10k',
      'write -c -P 8 128k 64k',
      'write -P 9 2000k 100k',
    ]);
    const ref = qemuRaw(img, tmp.path('rt.raw'));
    const rnd = prng(42);
    await withDev(img, async (dev) => {
      for (let i = 0; i < 300; i++) {
        const off = Math.floor(rnd() * ref.length);
        const len = Math.min(ref.length - off, Math.floor(rnd() * 200_000));
        const buf = new Uint8Array(len);
        await dev.readAt(buf, off);
        assert.ok(Buffer.from(buf).equals(ref.subarray(off, off + len)), `read of ${len} at ${off}`);
      }
    });
  });

  it('past the backing file end the overlay reads zeros (backing smaller than overlay)', async () => {
    const base = makeRaw(tmp.path('short.raw'), '1M', ['write -P 0xaa 0 1M']);
    const img = makeQcow2(tmp.path('big-over-short.qcow2'), { size: '4M', backing: base, backingFmt: 'raw' }, ['write -P 0xbb 3M 4k']);
    await withDev(img, async (dev) => {
      const buf = new Uint8Array(128 * 1024);
      await dev.readAt(buf, 1024 * 1024 - 64 * 1024);
      assert.ok(buf.subarray(0, 64 * 1024).every((b) => b === 0xaa));
      assert.ok(buf.subarray(64 * 1024).every((b) => b === 0));
      const m = await dev.getMapping(1024 * 1024 + 5);
      assert.equal(m.kind, 'unallocated');
      assert.equal(m.depth, 0, 'past the backing end the answer comes from the overlay');
    });
  });

  it('reads past the virtual size fail with a range error naming the image; empty reads succeed', async () => {
    const img = makeQcow2(tmp.path('range.qcow2'), { size: '1M' });
    await withDev(img, async (dev) => {
      await assert.rejects(
        dev.readAt(new Uint8Array(2), 1024 * 1024 - 1),
        (e: unknown) => e instanceof Qcow2Error && e.code === 'range' && e.message.startsWith(img),
      );
      await assert.rejects(dev.readAt(new Uint8Array(1), -1), Qcow2Error);
      assert.equal(await dev.readAt(new Uint8Array(0), 1024 * 1024), 0);
      const last = new Uint8Array(1);
      assert.equal(await dev.readAt(last, 1024 * 1024 - 1), 1);
    });
  });

  it('opened without its backing chain, unallocated ranges read as zeros', async () => {
    const base = makeQcow2(tmp.path('nb-base.qcow2'), { size: '1M' }, ['write -P 0x11 0 1M']);
    const img = makeQcow2(tmp.path('nb-top.qcow2'), { size: '1M', backing: base }, ['write -P 0x22 0 4k']);
    await withDev(
      img,
      async (dev) => {
        // Cluster 0 is allocated (the rest of it was copied from the backing file on write); cluster 1 is not.
        const buf = new Uint8Array(128 * 1024);
        await dev.readAt(buf, 0);
        assert.ok(buf.subarray(0, 4096).every((b) => b === 0x22));
        assert.ok(buf.subarray(4096, 65536).every((b) => b === 0x11));
        assert.ok(buf.subarray(65536).every((b) => b === 0));
      },
      { openBacking: false },
    );
  });

  it('getMapping agrees with qemu-img map on depth, kind and host offset at every entry start', async () => {
    const base = makeRaw(tmp.path('gm.raw'), '1M', ['write -P 1 0 64k']);
    const mid = makeQcow2(tmp.path('gm-mid.qcow2'), { size: '1M', backing: base, backingFmt: 'raw' }, ['write -P 2 64k 64k', 'write -c -P 3 128k 64k']);
    const img = makeQcow2(tmp.path('gm-top.qcow2'), { size: '2M', backing: mid }, ['write -P 4 256k 64k', 'write -z 320k 64k']);
    const theirs = JSON.parse(qemuImg(['map', '--output=json', img]).stdout) as {
      start: number;
      depth: number;
      zero: boolean;
      data: boolean;
      present: boolean;
      offset?: number;
    }[];
    await withDev(img, async (dev) => {
      for (const e of theirs) {
        const m = await dev.getMapping(e.start);
        const label = `entry at ${e.start}`;
        if (e.present) assert.equal(m.depth, e.depth, label);
        if (e.data && !e.zero) assert.ok(m.kind === 'data' || m.kind === 'compressed', label);
        if (e.zero && !e.data && e.present) assert.ok(m.kind === 'zero' || m.format === 'raw', label);
        if (e.offset !== undefined && m.kind === 'data') assert.equal(m.hostOffset, e.offset, label);
        if (m.kind === 'compressed') assert.equal(e.offset, undefined, label);
      }
    });
  });

  it('mapEntries streams a 4 TiB map with few entries and bounded work', async () => {
    const img = makeQcow2(tmp.path('4t.qcow2'), { size: '4T' }, ['write -P 1 5G 64k', 'write -P 2 4095G 64k']);
    await withDev(img, async (dev) => {
      const entries = [];
      for await (const e of mapEntries(dev)) entries.push(e);
      assert.equal(entries.length, 5);
      assert.equal(
        entries.reduce((s, e) => s + e.length, 0),
        4 * 1024 ** 4,
      );
      assert.deepEqual(
        entries.filter((e) => e.data).map((e) => e.start),
        [5 * 1024 ** 3, 4095 * 1024 ** 3],
      );
    });
  });

  it('getMapping of a compressed cluster reports where the compressed bytes are', async () => {
    const img = makeQcow2(join(tmp.dir, 'gmc.qcow2'), { size: '1M' }, ['write -c -P 9 64k 64k']);
    await withDev(img, async (dev) => {
      const m = await dev.getMapping(64 * 1024 + 100);
      assert.equal(m.kind, 'compressed');
      assert.ok(m.compressed && m.compressed.length > 0 && m.compressed.offset > 0);
      assert.equal(m.length, 64 * 1024 - 100);
    });
  });
});

describe('engine reads without the hole-detection addon', function () {
  this.timeout(60_000);
  const tmp = scratchDir('q2i-read-noaddon-');
  after(() => {
    delete process.env.Q2I_NO_SEEK_ADDON;
    resetSeekAddon();
    tmp.cleanup();
  });

  it('files count as fully allocated: map differs from qemu-img only in zero flags, guest bytes are the same', async () => {
    process.env.Q2I_NO_SEEK_ADDON = '1';
    resetSeekAddon();
    assert.equal(seekAddon(), null);
    const base = makeRaw(tmp.path('holes.raw'), '1M', ['write -P 1 512k 64k']);
    const img = makeQcow2(tmp.path('na.qcow2'), { size: '1M', backing: base, backingFmt: 'raw' }, ['write -P 2 0 4k']);
    const theirs = JSON.parse(qemuImg(['map', '--output=json', img]).stdout) as { start: number; length: number; zero: boolean; data: boolean }[];
    const ref = qemuRaw(img, tmp.path('na.raw'));
    await withDev(img, async (dev) => {
      const ours = [];
      for await (const e of mapEntries(dev)) ours.push(e);
      // The raw backing file is one data extent to us; qemu-img sees its holes as zero.
      assert.ok(ours.every((e) => !e.zero || e.depth === 0));
      assert.ok(theirs.some((e) => e.zero && e.start > 0));
      const buf = new Uint8Array(ref.length);
      await dev.readAt(buf, 0);
      assert.ok(Buffer.from(buf).equals(ref));
    });
  });
});
