/**
 * Clean images of every kind: our check finds nothing, and every qemu-img check number (allocated,
 * fragmented, compressed, total clusters, image end offset) is the same.
 */
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { createLuksImage, qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { ourCheck, qemuCheck } from './check-fixtures';

interface Kind {
  name: string;
  make(path: string, dir: { path(n: string): string }): void;
  /** How qemu-img check must name the image, when the plain path is not enough (encryption keys). */
  qemuArgs?(path: string): string[];
}

const io = (path: string, cmds: string[], extra: string[] = []): void => void qemuIo(path, cmds, extra);

function qemuCheckArgs(args: string[]): { code: number; json?: Record<string, number | string>; stderr: string } {
  const r = qemuImg(['check', '--output=json', ...args], true);
  return { code: r.code, json: r.code === 0 ? JSON.parse(r.stdout) : undefined, stderr: r.stderr };
}

const KINDS: Kind[] = [
  { name: 'empty v3', make: (p) => qemuImg(['create', '-f', 'qcow2', p, '64M']) },
  {
    name: 'v3 64k with data, zeros and discards',
    make: (p) => {
      qemuImg(['create', '-f', 'qcow2', p, '128M']);
      io(p, ['write -P 0x11 0 3M', 'write -P 0x22 5M 128k', 'write -z 1M 512k', 'discard 2M 256k', 'write -P 0x33 100M 64k', 'write -z -u 5M 64k']);
    },
  },
  {
    name: 'v2 (compat=0.10)',
    make: (p) => {
      qemuImg(['create', '-f', 'qcow2', '-o', 'compat=0.10', p, '64M']);
      io(p, ['write -P 1 0 1M', 'write -P 2 10M 192k']);
    },
  },
  ...[512, 4096, 2 * 1024 * 1024].map((cs) => ({
    name: `cluster size ${cs}`,
    make: (p: string) => {
      qemuImg(['create', '-f', 'qcow2', '-o', `cluster_size=${cs}`, p, '64M']);
      io(p, ['write -P 5 0 300k', 'write -P 6 9M 70k', 'write -P 7 40M 1M']);
    },
  })),
  ...[1, 2, 4, 8, 32, 64].map((bits) => ({
    name: `refcount_bits=${bits}`,
    make: (p: string) => {
      qemuImg(['create', '-f', 'qcow2', '-o', `refcount_bits=${bits}`, p, '64M']);
      io(p, ['write -P 8 0 1M', 'write -P 9 30M 64k']);
    },
  })),
  {
    name: 'compressed (zlib), fragments sharing sectors',
    make: (p, d) => {
      const raw = d.path('src.raw');
      qemuImg(['create', '-f', 'raw', raw, '16M']);
      io(raw, ['write -P 0x41 0 2M', 'write -P 0x42 3M 64k', 'write -P 0 4M 1M'], ['-f', 'raw']);
      qemuImg(['convert', '-c', '-O', 'qcow2', raw, p]);
      io(p, ['write -c -P 0x43 8M 64k', 'write -P 0x44 9M 64k']);
    },
  },
  {
    name: 'compressed (zstd)',
    make: (p) => {
      qemuImg(['create', '-f', 'qcow2', '-o', 'compression_type=zstd', p, '32M']);
      io(p, ['write -c -P 0x51 0 64k', 'write -c -P 0x52 64k 64k', 'write -P 0x53 1M 64k']);
    },
  },
  {
    name: 'extended L2 with subclusters',
    make: (p) => {
      qemuImg(['create', '-f', 'qcow2', '-o', 'extended_l2=on,cluster_size=128k', p, '64M']);
      io(p, ['write -P 1 0 4k', 'write -P 2 8k 4k', 'write -z 1M 32k', 'write -P 3 2M 300k', 'write -c -P 4 4M 128k']);
    },
  },
  {
    name: 'snapshots',
    make: (p) => {
      qemuImg(['create', '-f', 'qcow2', p, '64M']);
      io(p, ['write -P 1 0 1M']);
      qemuImg(['snapshot', '-c', 'one', p]);
      io(p, ['write -P 2 512k 1M', 'write -P 3 20M 64k']);
      qemuImg(['snapshot', '-c', 'two', p]);
      io(p, ['write -P 4 0 64k']);
    },
  },
  {
    name: 'v2 snapshots',
    make: (p) => {
      qemuImg(['create', '-f', 'qcow2', '-o', 'compat=0.10', p, '32M']);
      io(p, ['write -P 1 0 256k']);
      qemuImg(['snapshot', '-c', 'old', p]);
      io(p, ['write -P 2 0 64k']);
    },
  },
  {
    name: 'persistent bitmaps',
    make: (p) => {
      qemuImg(['create', '-f', 'qcow2', p, '64M']);
      io(p, ['write -P 1 0 2M']);
      qemuImg(['bitmap', '--add', p, 'b0']);
      qemuImg(['bitmap', '--add', '-g', '512k', p, 'b1']);
      // Bitmaps get data clusters once a write dirties them and QEMU stores them on close.
      io(p, ['write -P 2 4M 1M']);
    },
  },
  {
    name: 'external data file',
    make: (p, d) => {
      qemuImg(['create', '-f', 'qcow2', '-o', `data_file=${d.path('data.raw')}`, p, '64M']);
      io(p, ['write -P 1 0 1M', 'write -P 2 10M 64k']);
    },
  },
  {
    name: 'overlay in a backing chain',
    make: (p, d) => {
      const base = d.path('base.qcow2');
      qemuImg(['create', '-f', 'qcow2', base, '64M']);
      io(base, ['write -P 1 0 4M']);
      qemuImg(['create', '-f', 'qcow2', '-b', base, '-F', 'qcow2', p]);
      io(p, ['write -P 2 1M 128k', 'write -P 3 60M 4k']);
    },
  },
  { name: 'preallocation=metadata', make: (p) => qemuImg(['create', '-f', 'qcow2', '-o', 'preallocation=metadata', p, '256M']) },
  {
    name: 'preallocation=metadata, 4k clusters, then written',
    make: (p) => {
      qemuImg(['create', '-f', 'qcow2', '-o', 'preallocation=metadata,cluster_size=4k', p, '32M']);
      io(p, ['write -P 9 0 100k']);
    },
  },
  {
    name: 'LUKS-encrypted (metadata only is checked, no key needed)',
    make: (p) => {
      createLuksImage(p, '64M', { secretId: 's0', passphrase: 'pw' });
      qemuIo(`driver=qcow2,file.filename=${p},encrypt.key-secret=s0`, ['write -P 3 0 1M'], ['--object', 'secret,id=s0,data=pw', '--image-opts']);
    },
    qemuArgs: (p) => ['--object', 'secret,id=s0,data=pw', '--image-opts', `driver=qcow2,file.filename=${p},encrypt.key-secret=s0`],
  },
  {
    name: 'lazy refcounts, cleanly closed',
    make: (p) => {
      qemuImg(['create', '-f', 'qcow2', '-o', 'lazy_refcounts=on', p, '64M']);
      io(p, ['write -P 1 0 1M']);
    },
  },
  {
    name: 'large virtual size, sparse writes across L2 tables',
    make: (p) => {
      qemuImg(['create', '-f', 'qcow2', '-o', 'cluster_size=4k', p, '8G']);
      io(p, ['write -P 1 0 8k', 'write -P 2 2G 4k', 'write -P 3 5G 12k', 'write -P 4 8388604k 4k']);
    },
  },
];

describe('check: clean images match qemu-img check', function () {
  this.timeout(60_000);
  const dir = scratchDir('q2i-check-clean-');
  after(() => dir.cleanup());

  KINDS.forEach((kind, i) => {
    it(kind.name, async () => {
      const path = dir.path(`clean-${i}.qcow2`);
      kind.make(path, dir);
      const q = kind.qemuArgs ? qemuCheckArgs(kind.qemuArgs(path)) : qemuCheck(path);
      assert.equal(q.code, 0, `qemu-img check should pass: ${q.stderr}`);
      const ours = await ourCheck(path);
      assert.equal(ours.code, 0, ours.result.findings.map((f) => f.qemuLine).join('\n'));
      assert.deepEqual(ours.json, { ...q.json, filename: path });
      assert.equal(ours.result.findings.length, 0);
    });
  });

  it('a file that is not qcow2 is refused with one line', async () => {
    const path = dir.path('not-qcow2.img');
    writeFileSync(path, Buffer.alloc(1 << 20, 7));
    await assert.rejects(ourCheck(path), /not a qcow2 image/);
  });
});
