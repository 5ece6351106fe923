/** Image creation: every option, compared byte for byte with qemu-img create, checked clean, reported by info. */
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync, existsSync, statSync } from 'node:fs';
import { createImage, writeNewImage, planLayout, type CreateOptions } from '../../src/qcow2/create';
import { MemIo } from '../../src/qcow2/io/memory';
import { openImage } from '../../src/qcow2/open';
import { Qcow2Error } from '../../src/qcow2/errors';
import { qemuImg, scratchDir } from '../helpers/qemu';

const G = 2 ** 30;
const T = 2 ** 40;

interface Case {
  name: string;
  opts: Omit<CreateOptions, 'size'> & { size?: number };
  /** qemu-img create arguments after `-f qcow2` (image name and size are appended). */
  qemu: string[];
  size?: string;
  /** Expected qemu-img info format-specific data (subset). */
  info: Record<string, unknown>;
  /** false when our layout is valid but differs from QEMU's (refcount-table growth). */
  identical?: boolean;
}

const cases: Case[] = [
  {
    name: 'defaults',
    opts: { size: G },
    qemu: [],
    size: '1G',
    info: { compat: '1.1', 'refcount-bits': 16, 'compression-type': 'zlib', 'lazy-refcounts': false, 'extended-l2': false },
  },
  { name: '512 B clusters', opts: { size: G, clusterSize: 512 }, qemu: ['-o', 'cluster_size=512'], size: '1G', info: {} },
  { name: '2 MiB clusters', opts: { size: G, clusterSize: 2 << 20 }, qemu: ['-o', 'cluster_size=2M'], size: '1G', info: {} },
  ...[1, 2, 4, 8, 32, 64].map((bits) => ({
    name: `refcount_bits=${bits}`,
    opts: { size: G, refcountBits: bits },
    qemu: ['-o', `refcount_bits=${bits}`],
    size: '1G',
    info: { 'refcount-bits': bits },
  })),
  { name: 'compat=0.10', opts: { size: G, compat: '0.10' }, qemu: ['-o', 'compat=0.10'], size: '1G', info: { compat: '0.10', 'refcount-bits': 16 } },
  { name: 'extended L2', opts: { size: G, extendedL2: true }, qemu: ['-o', 'extended_l2=on'], size: '1G', info: { 'extended-l2': true } },
  {
    name: 'extended L2, 16 KiB clusters',
    opts: { size: G, extendedL2: true, clusterSize: 16384 },
    qemu: ['-o', 'extended_l2=on,cluster_size=16k'],
    size: '1G',
    info: { 'extended-l2': true },
  },
  { name: 'zstd', opts: { size: G, compressionType: 'zstd' }, qemu: ['-o', 'compression_type=zstd'], size: '1G', info: { 'compression-type': 'zstd' } },
  { name: 'lazy refcounts', opts: { size: G, lazyRefcounts: true }, qemu: ['-o', 'lazy_refcounts=on'], size: '1G', info: { 'lazy-refcounts': true } },
  { name: 'size 0', opts: { size: 0 }, qemu: [], size: '0', info: {} },
  { name: 'size rounded up to 512', opts: { size: 1000 }, qemu: [], size: '1000', info: {} },
  { name: '4 TiB', opts: { size: 4 * T }, qemu: [], size: '4T', info: {} },
  { name: '4 TiB, 4 KiB clusters', opts: { size: 4 * T, clusterSize: 4096 }, qemu: ['-o', 'cluster_size=4k'], size: '4T', info: {} },
  {
    name: '1 KiB clusters, 1-bit refcounts',
    opts: { size: G, clusterSize: 1024, refcountBits: 1 },
    qemu: ['-o', 'cluster_size=1k,refcount_bits=1'],
    size: '1G',
    info: { 'refcount-bits': 1 },
  },
  {
    name: 'refcount table growth (512 B clusters, 64-bit refcounts, 16 GiB)',
    opts: { size: 16 * G, clusterSize: 512, refcountBits: 64 },
    qemu: ['-o', 'cluster_size=512,refcount_bits=64'],
    size: '16G',
    info: { 'refcount-bits': 64 },
    identical: false,
  },
  {
    name: 'everything at once',
    opts: { size: 3 * G, clusterSize: 32768, refcountBits: 8, extendedL2: true, compressionType: 'zstd', lazyRefcounts: true },
    qemu: ['-o', 'cluster_size=32k,refcount_bits=8,extended_l2=on,compression_type=zstd,lazy_refcounts=on'],
    size: '3G',
    info: { 'refcount-bits': 8, 'extended-l2': true, 'compression-type': 'zstd', 'lazy-refcounts': true },
  },
  { name: 'backing file, size from backing', opts: { backingFile: 'base.raw', backingFormat: 'raw' }, qemu: ['-b', 'base.raw', '-F', 'raw'], info: {} },
  {
    name: 'backing file, explicit size',
    opts: { size: 200 << 20, backingFile: 'base.raw', backingFormat: 'raw' },
    qemu: ['-b', 'base.raw', '-F', 'raw'],
    size: '200M',
    info: {},
  },
  {
    name: 'qcow2 backing file, compat=0.10',
    opts: { backingFile: 'base.qcow2', backingFormat: 'qcow2', compat: '0.10' },
    qemu: ['-b', 'base.qcow2', '-F', 'qcow2', '-o', 'compat=0.10'],
    info: { compat: '0.10' },
  },
  {
    name: 'backing file, 512 B clusters',
    opts: { backingFile: 'base.raw', backingFormat: 'raw', clusterSize: 512 },
    qemu: ['-b', 'base.raw', '-F', 'raw', '-o', 'cluster_size=512'],
    info: {},
  },
  {
    name: 'external data file',
    opts: { size: 4 << 20, dataFile: 'data.raw' },
    qemu: ['-o', 'data_file=data.raw'],
    size: '4M',
    info: { 'data-file': 'data.raw' },
  },
  {
    name: 'raw external data file',
    opts: { size: 4 << 20, dataFile: 'data.raw', dataFileRaw: true, clusterSize: 4096 },
    qemu: ['-o', 'data_file=data.raw,data_file_raw=on,cluster_size=4k'],
    size: '4M',
    info: { 'data-file': 'data.raw', 'data-file-raw': true },
  },
  { name: 'preallocation=metadata', opts: { size: 40 << 20, preallocation: 'metadata' }, qemu: ['-o', 'preallocation=metadata'], size: '40M', info: {} },
  {
    name: 'preallocation=metadata, 4 KiB clusters, several L2 tables',
    opts: { size: 5 << 20, preallocation: 'metadata', clusterSize: 4096 },
    qemu: ['-o', 'preallocation=metadata,cluster_size=4k'],
    size: '5M',
    info: {},
  },
  {
    name: 'preallocation=metadata, v2',
    opts: { size: 1 << 20, preallocation: 'metadata', compat: '0.10' },
    qemu: ['-o', 'preallocation=metadata,compat=0.10'],
    size: '1M',
    info: {},
  },
  {
    name: 'preallocation=metadata, 2 MiB clusters, 1-bit refcounts',
    opts: { size: 64 << 20, preallocation: 'metadata', clusterSize: 2 << 20, refcountBits: 1 },
    qemu: ['-o', 'preallocation=metadata,cluster_size=2M,refcount_bits=1'],
    size: '64M',
    info: {},
  },
  {
    name: 'preallocation=metadata, extended L2 over a backing file',
    opts: { backingFile: 'base.raw', backingFormat: 'raw', preallocation: 'metadata', extendedL2: true },
    qemu: ['-o', 'preallocation=metadata,extended_l2=on', '-b', 'base.raw', '-F', 'raw'],
    info: { 'extended-l2': true },
  },
  {
    name: 'preallocation=metadata needing more refcount blocks (layout differs from QEMU)',
    opts: { size: 20 << 20, preallocation: 'metadata', clusterSize: 4096 },
    qemu: ['-o', 'preallocation=metadata,cluster_size=4k'],
    size: '20M',
    info: {},
    identical: false,
  },
];

describe('create: images match qemu-img create', function () {
  this.timeout(60_000);
  const tmp = scratchDir('q2i-create-');
  let cwd: string;
  before(() => {
    cwd = process.cwd();
    // qemu-img resolves a relative data_file name against the working folder; ours against the image's folder.
    process.chdir(tmp.dir);
    qemuImg(['create', '-q', '-f', 'raw', tmp.path('base.raw'), '100M']);
    qemuImg(['create', '-q', '-f', 'qcow2', tmp.path('base.qcow2'), '300M']);
  });
  after(() => {
    process.chdir(cwd);
    tmp.cleanup();
  });

  for (const c of cases) {
    it(c.name, async () => {
      const ours = tmp.path('ours.qcow2');
      const theirs = tmp.path('theirs.qcow2');
      await createImage(ours, c.opts);
      const ourData = c.opts.dataFile ? readFileSync(tmp.path(c.opts.dataFile)) : undefined;
      qemuImg(['create', '-q', '-f', 'qcow2', ...c.qemu, theirs, ...(c.size ? [c.size] : [])]);
      if (c.identical !== false) assert.ok(readFileSync(ours).equals(readFileSync(theirs)), 'bytes differ from qemu-img create');
      assert.equal(qemuImg(['compare', ours, theirs], true).code, 0, 'guest contents differ');
      if (c.opts.preallocation) {
        // Same allocation as qemu-img map sees it (data clusters preallocated, sparse): compare without offsets.
        const map = (f: string): string => qemuImg(['map', '--output=json', f]).stdout.replace(/"offset": \d+/g, '');
        assert.equal(map(ours), map(theirs));
      }
      if (ourData) assert.equal(ourData.length, statSync(tmp.path(c.opts.dataFile!)).size);

      const check = qemuImg(['check', '--output=json', ours], true);
      assert.equal(check.code, 0, check.stdout + check.stderr);
      const cj = JSON.parse(check.stdout);
      assert.equal(cj.corruptions ?? 0, 0);
      assert.equal(cj.leaks ?? 0, 0);

      const info = JSON.parse(qemuImg(['info', '--output=json', ours]).stdout);
      const theirInfo = JSON.parse(qemuImg(['info', '--output=json', theirs]).stdout);
      assert.equal(info['virtual-size'], theirInfo['virtual-size']);
      assert.equal(info['cluster-size'], c.opts.clusterSize ?? 65536);
      for (const [k, v] of Object.entries(c.info)) assert.deepEqual(info['format-specific'].data[k], v, k);
      assert.deepEqual(info['format-specific'], theirInfo['format-specific']);
      if (c.opts.backingFile) {
        assert.equal(info['backing-filename'], c.opts.backingFile);
        assert.equal(info['backing-filename-format'], c.opts.backingFormat);
      }

      // Our own reader opens it, and it reads as zeros (or the backing file).
      const dev = await openImage(ours, { readOnly: true });
      try {
        assert.equal(dev.virtualSize, info['virtual-size']);
        if (dev.virtualSize > 0 && !c.opts.dataFile) {
          const buf = new Uint8Array(Math.min(4096, dev.virtualSize)).fill(7);
          await dev.readAt(buf, 0);
          assert.ok(buf.every((b) => b === 0));
        }
      } finally {
        await dev.close();
      }
    });
  }

  it('writes the same bytes through MemIo', async () => {
    const mem = new MemIo(new Uint8Array(0), 'mem.qcow2');
    await writeNewImage(mem, { size: 10 * G, clusterSize: 4096, refcountBits: 2, lazyRefcounts: true });
    await createImage(tmp.path('file.qcow2'), { size: 10 * G, clusterSize: 4096, refcountBits: 2, lazyRefcounts: true });
    assert.ok(Buffer.from(mem.bytes()).equals(readFileSync(tmp.path('file.qcow2'))));
  });

  it('grows the refcount table when one cluster of it is not enough', () => {
    const layout = planLayout(16 * G, 512, 64, false);
    assert.ok(layout.reftableClusters > 1);
    assert.equal(layout.refblockOffsets.length * 64 >= layout.totalClusters, true);
  });
});

describe('create: refuses bad options with one clear line, touching nothing', () => {
  const tmp = scratchDir('q2i-create-bad-');
  after(() => tmp.cleanup());
  const bad: Array<[string, Omit<CreateOptions, 'size'> & { size?: number }, RegExp]> = [
    ['cluster size not a power of two', { size: G, clusterSize: 3000 }, /cluster size must be a power of two between 512 and 2048k/],
    ['cluster size too small', { size: G, clusterSize: 256 }, /cluster size/],
    ['cluster size too big', { size: G, clusterSize: 4 << 20 }, /cluster size/],
    ['refcount width 3', { size: G, refcountBits: 3 }, /refcount width/],
    ['refcount width 128', { size: G, refcountBits: 128 }, /refcount width/],
    ['lazy refcounts on v2', { size: G, compat: '0.10', lazyRefcounts: true }, /lazy refcounts need compatibility level 1.1/],
    ['8-bit refcounts on v2', { size: G, compat: '0.10', refcountBits: 8 }, /refcount widths other than 16 bits need compatibility level 1.1/],
    ['zstd on v2', { size: G, compat: '0.10', compressionType: 'zstd' }, /compression types other than zlib/],
    ['extended L2 on v2', { size: G, compat: '0.10', extendedL2: true }, /extended L2 entries need compatibility level 1.1/],
    ['extended L2 with 8 KiB clusters', { size: G, extendedL2: true, clusterSize: 8192 }, /at least 16 KiB/],
    ['backing without format', { size: G, backingFile: 'x.raw' }, /without backing format/],
    ['missing backing file', { backingFile: 'missing.raw', backingFormat: 'raw' }, /cannot open backing file/],
    ['unsupported backing format', { backingFile: 'x.vmdk', backingFormat: 'vmdk' }, /not supported/],
    ['no size, no backing', {}, /image size is required/],
    ['size too large for L1', { size: 2 ** 52, clusterSize: 512 }, /too large/],
    ['negative size', { size: -1 }, /invalid image size/],
    ['data_file_raw without data_file', { size: G, dataFileRaw: true }, /data_file_raw needs data_file/],
    [
      'preallocation with a backing file, without extended L2',
      { backingFile: 'b.raw', backingFormat: 'raw', size: G, preallocation: 'metadata' },
      /extended_l2=on/,
    ],
    ['preallocation=full', { size: G, preallocation: 'full' as 'metadata' }, /unsupported preallocation mode 'full'/],
  ];
  for (const [name, opts, re] of bad) {
    it(name, async () => {
      const path = tmp.path(`${name.replace(/\W+/g, '_')}.qcow2`);
      await assert.rejects(createImage(path, opts), (err: unknown) => {
        assert.ok(err instanceof Qcow2Error, String(err));
        assert.match(err.message, re);
        assert.ok(!err.message.includes('\n'));
        assert.ok(err.message.startsWith(path + ': '), err.message);
        return true;
      });
      assert.equal(existsSync(path), false, 'no file may be created');
    });
  }

  it('a backing name that cannot fit the header cluster is refused', async () => {
    const path = tmp.path('longname.qcow2');
    writeFileSync(tmp.path('b.raw'), new Uint8Array(1024));
    const name = './' + '/.'.repeat(300) + '/b.raw';
    await assert.rejects(
      createImage(path, { size: 1 << 20, clusterSize: 512, backingFile: name, backingFormat: 'raw' }),
      /do not fit in the first cluster|does not fit/,
    );
  });

  it('never overwrites its own backing file or data file', async () => {
    const base = tmp.path('self.raw');
    writeFileSync(base, new Uint8Array(65536).fill(9));
    await assert.rejects(createImage(base, { backingFile: 'self.raw', backingFormat: 'raw' }), /overwrite its own backing file/);
    await assert.rejects(createImage(base, { backingFile: base, backingFormat: 'raw', size: 65536 }), /overwrite its own backing file/);
    assert.ok(
      readFileSync(base).every((b) => b === 9),
      'backing file untouched',
    );
    await assert.rejects(createImage(tmp.path('df.qcow2'), { size: 65536, dataFile: 'df.qcow2' }), /must be different files/);
  });
});
