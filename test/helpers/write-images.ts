/**
 * Images of every kind the write path must handle, made at test time with qemu-img / qemu-io (and our own
 * createImage). Each comes with what the workload checks need: geometry, backing files, expected refusal.
 */
import { writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createImage } from '../../src/qcow2/create';
import { seededRandom } from '../../src/qcow2/io/fault';
import { qemuImg, qemuIo } from './qemu';
import type { Geometry } from './workload';

export interface WriteImage extends Geometry {
  kind: string;
  path: string;
  /** Files the workload must leave byte-identical. */
  backingFiles: string[];
  /** Set when the engine may refuse writes to this image (then the image must stay untouched). */
  mayRefuse?: RegExp;
  /** Offset from which some writes go (4 TiB image: above 4 GiB). */
  highFrom?: number;
  /** Keep writes below this (default: whole disk). */
  limit?: number;
}

const K = 1024;
const M = 1024 * K;
const G = 1024 * M;

function geometry(virtualSize: number, clusterSize: number, extendedL2 = false): Geometry {
  return { virtualSize, clusterSize, l2Span: (clusterSize / (extendedL2 ? 16 : 8)) * clusterSize };
}

/** A raw file with a seeded mix of data and holes. */
function rawWithData(path: string, size: number, seed: number, chunk = 64 * K): void {
  const rnd = seededRandom(seed);
  const buf = new Uint8Array(size);
  for (let off = 0; off < size; off += chunk) {
    if (rnd() < 0.5) continue;
    for (let i = off; i < Math.min(size, off + chunk); i++) buf[i] = (rnd() * 256) | 0;
  }
  writeFileSync(path, buf);
}

/** qemu-io writes that leave data, zero-flag clusters and preallocated zero clusters behind. */
function scatter(image: string, clusterSize: number, virtualSize: number, pattern: number): void {
  const cmds: string[] = [];
  const step = Math.max(clusterSize, Math.floor(virtualSize / 24 / clusterSize) * clusterSize);
  for (let off = 0, i = 0; off + 2 * clusterSize <= virtualSize && i < 24; off += step, i++) {
    if (i % 4 === 3)
      cmds.push(`write -q -z ${off} ${clusterSize}`); // zero flag
    else cmds.push(`write -q -P ${pattern + i} ${off + 512} ${clusterSize + 1000}`);
    if (i % 6 === 5) cmds.push(`write -q -z ${off + clusterSize} ${clusterSize}`); // over allocated data: preallocated zero
  }
  qemuIo(image, cmds);
}

export type KindName =
  | 'engine-created'
  | 'engine-options'
  | 'engine-v2-backing'
  | 'engine-prealloc-xl2-backing'
  | 'prealloc-metadata'
  | 'plain'
  | 'v2'
  | 'raw-backing'
  | 'qcow2-chain'
  | 'compressed-zlib'
  | 'compressed-zstd'
  | 'extended-l2'
  | 'extended-l2-backing'
  | 'snapshots'
  | 'bitmaps'
  | 'bitmaps-disabled'
  | 'data-file'
  | 'data-file-raw'
  | 'cluster-512'
  | 'cluster-2M'
  | 'refcount-1'
  | 'refcount-64'
  | 'lazy-refcounts'
  | 'lazy-dirty'
  | 'tiny-reftable'
  | 'huge-4T';

export const ALL_KINDS: KindName[] = [
  'engine-created',
  'engine-options',
  'engine-v2-backing',
  'engine-prealloc-xl2-backing',
  'prealloc-metadata',
  'plain',
  'v2',
  'raw-backing',
  'qcow2-chain',
  'compressed-zlib',
  'compressed-zstd',
  'extended-l2',
  'extended-l2-backing',
  'snapshots',
  'bitmaps',
  'bitmaps-disabled',
  'data-file',
  'data-file-raw',
  'cluster-512',
  'cluster-2M',
  'refcount-1',
  'refcount-64',
  'lazy-refcounts',
  'lazy-dirty',
  'tiny-reftable',
  'huge-4T',
];

/** Makes an image of `kind` in the folder given by `p` (a path maker). */
export async function makeWriteImage(kind: KindName, p: (name: string) => string): Promise<WriteImage> {
  const img = p(`${kind}.qcow2`);
  const create = (opts: string[], size: string): void => void qemuImg(['create', '-q', '-f', 'qcow2', ...opts, img, size]);
  const base = { kind, path: img, backingFiles: [] as string[] };
  switch (kind) {
    case 'engine-created':
      await createImage(img, { size: 2 * G + 3 * 512, clusterSize: 64 * K });
      return { ...base, ...geometry(2 * G + 3 * 512, 64 * K) };
    case 'engine-options':
      await createImage(img, { size: 96 * M, clusterSize: 32 * K, refcountBits: 8, extendedL2: true, compressionType: 'zstd', lazyRefcounts: true });
      return { ...base, ...geometry(96 * M, 32 * K, true) };
    case 'engine-v2-backing': {
      const b = p('engine-base.qcow2');
      await createImage(b, { size: 24 * M, clusterSize: 4 * K, refcountBits: 1 });
      scatter(b, 4 * K, 24 * M, 110);
      await createImage(img, { backingFile: b, backingFormat: 'qcow2', compat: '0.10', clusterSize: 2 * K });
      return { ...base, backingFiles: [b], ...geometry(24 * M, 2 * K) };
    }
    case 'engine-prealloc-xl2-backing': {
      const b = p('prealloc-base.raw');
      rawWithData(b, 20 * M, 120, 4 * K);
      await createImage(img, { backingFile: b, backingFormat: 'raw', preallocation: 'metadata', extendedL2: true, clusterSize: 32 * K });
      return { ...base, backingFiles: [b], ...geometry(20 * M, 32 * K, true) };
    }
    case 'prealloc-metadata':
      create(['-o', 'preallocation=metadata,cluster_size=8k'], '40M');
      scatter(img, 8 * K, 40 * M, 130);
      return { ...base, ...geometry(40 * M, 8 * K) };
    case 'plain':
      create([], '1G');
      scatter(img, 64 * K, G, 1);
      return { ...base, ...geometry(G, 64 * K) };
    case 'v2':
      create(['-o', 'compat=0.10'], '1G');
      scatter(img, 64 * K, G, 2);
      return { ...base, ...geometry(G, 64 * K) };
    case 'raw-backing': {
      const raw = p('base.raw');
      rawWithData(raw, 8 * M, 11);
      qemuImg(['create', '-q', '-f', 'qcow2', '-b', raw, '-F', 'raw', img, '12M']);
      return { ...base, backingFiles: [raw], ...geometry(12 * M, 64 * K) };
    }
    case 'qcow2-chain': {
      const b0 = p('chain0.qcow2');
      const b1 = p('chain1.qcow2');
      qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', b0, '16M']);
      scatter(b0, 4 * K, 16 * M, 10);
      qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=16k', '-b', b0, '-F', 'qcow2', b1, '16M']);
      scatter(b1, 16 * K, 16 * M, 40);
      qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=8k', '-b', b1, '-F', 'qcow2', img, '20M']);
      return { ...base, backingFiles: [b0, b1], ...geometry(20 * M, 8 * K) };
    }
    case 'compressed-zlib':
    case 'compressed-zstd': {
      const raw = p(`${kind}.raw`);
      rawWithData(raw, 8 * M, 12, 16 * K);
      const type = kind === 'compressed-zlib' ? 'zlib' : 'zstd';
      qemuImg(['convert', '-c', '-f', 'raw', '-O', 'qcow2', '-o', `cluster_size=16k,compression_type=${type}`, raw, img]);
      return { ...base, ...geometry(8 * M, 16 * K) };
    }
    case 'extended-l2':
      create(['-o', 'extended_l2=on,cluster_size=64k'], '256M');
      qemuIo(img, ['write -q -P 3 4096 2048', 'write -q -P 4 70000 5000', 'write -q -z 131072 8192', 'write -q -P 5 1048576 65536']);
      return { ...base, ...geometry(256 * M, 64 * K, true) };
    case 'extended-l2-backing': {
      const raw = p('xbase.raw');
      rawWithData(raw, 16 * M, 13, 2 * K);
      qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'extended_l2=on,cluster_size=32k', '-b', raw, '-F', 'raw', img, '16M']);
      qemuIo(img, ['write -q -P 6 1024 1024', 'write -q -z 40960 4096']);
      return { ...base, backingFiles: [raw], ...geometry(16 * M, 32 * K, true) };
    }
    case 'snapshots':
      create(['-o', 'cluster_size=16k'], '32M');
      scatter(img, 16 * K, 32 * M, 20);
      qemuImg(['snapshot', '-c', 'first', img]);
      qemuIo(img, ['write -q -P 99 100000 300000']);
      qemuImg(['snapshot', '-c', 'second', img]);
      return { ...base, ...geometry(32 * M, 16 * K) };
    case 'bitmaps':
      create([], '64M');
      scatter(img, 64 * K, 64 * M, 30);
      qemuImg(['bitmap', '--add', img, 'dirty0']);
      qemuImg(['bitmap', '--add', '-g', '128k', img, 'dirty1']);
      return { ...base, ...geometry(64 * M, 64 * K) };
    case 'bitmaps-disabled':
      // A disabled bitmap records nothing, so writes cannot make it stale.
      create(['-o', 'cluster_size=16k'], '32M');
      scatter(img, 16 * K, 32 * M, 35);
      qemuImg(['bitmap', '--add', '--disable', img, 'frozen']);
      return { ...base, ...geometry(32 * M, 16 * K) };
    case 'data-file':
      create(['-o', `data_file=${p('ext.data')}`], '32M');
      scatter(img, 64 * K, 32 * M, 50);
      return { ...base, ...geometry(32 * M, 64 * K) };
    case 'data-file-raw':
      create(['-o', `data_file=${p('extraw.data')},data_file_raw=on,cluster_size=4k`], '8M');
      qemuIo(img, ['write -q -P 7 0 100000']);
      return { ...base, ...geometry(8 * M, 4 * K) };
    case 'cluster-512':
      create(['-o', 'cluster_size=512'], '64M');
      scatter(img, 512, 64 * M, 60);
      return { ...base, ...geometry(64 * M, 512) };
    case 'cluster-2M':
      create(['-o', 'cluster_size=2M'], '3G');
      scatter(img, 2 * M, 3 * G, 70);
      return { ...base, ...geometry(3 * G, 2 * M) };
    case 'refcount-1':
      create(['-o', 'refcount_bits=1,cluster_size=4k'], '64M');
      scatter(img, 4 * K, 64 * M, 80);
      return { ...base, ...geometry(64 * M, 4 * K) };
    case 'refcount-64':
      create(['-o', 'refcount_bits=64,cluster_size=4k'], '64M');
      scatter(img, 4 * K, 64 * M, 90);
      return { ...base, ...geometry(64 * M, 4 * K) };
    case 'lazy-refcounts':
      create(['-o', 'lazy_refcounts=on'], '256M');
      scatter(img, 64 * K, 256 * M, 100);
      return { ...base, ...geometry(256 * M, 64 * K) };
    case 'lazy-dirty':
      // qemu-io exits without closing: the dirty bit stays set and refcounts may be stale.
      create(['-o', 'lazy_refcounts=on,cluster_size=4k'], '16M');
      spawnSync('qemu-io', ['-c', 'write -q -P 5 0 100000', '-c', 'write -q -P 6 4000000 20000', '-c', 'abort', img]);
      return { ...base, ...geometry(16 * M, 4 * K), mayRefuse: /dirty|repair|lazy/i };
    case 'tiny-reftable':
      // 512 B clusters with 64-bit refcounts: one refblock covers 32 KiB and the first refcount table 2 MiB,
      // so a few MiB of writes must grow the refcount table.
      create(['-o', 'cluster_size=512,refcount_bits=64'], '32M');
      return { ...base, ...geometry(32 * M, 512) };
    case 'huge-4T':
      create([], '4T');
      qemuIo(img, ['write -q -P 1 0 65536', `write -q -P 2 ${4 * G - 512} 1024`, `write -q -P 3 ${4 * 1024 * G - 65536} 65536`]);
      return { ...base, ...geometry(4 * 1024 * G, 64 * K), highFrom: 4 * G };
  }
}
