/** The workloads the crash tests replay at every fault point: small images, so each run takes milliseconds. */
import { writeFileSync } from 'node:fs';
import { createImage } from '../../src/qcow2/create';
import { seededRandom } from '../../src/qcow2/io/fault';
import { qemuImg, qemuIo, sha256File } from './qemu';
import { genWorkload } from './workload';
import type { CrashWorkload } from './crash';

export interface CrashSpec {
  name: string;
  seed: number;
  /** Every N up to this is tried; beyond it N is sampled to about `budget` runs (all with Q2I_LONG=1). */
  dense: number;
  budget: number;
  build(p: (n: string) => string, seed: number): Promise<CrashWorkload>;
}

const K = 1024;
const M = 1024 * K;

function rawFile(path: string, size: number, seed: number): void {
  const r = seededRandom(seed);
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) if (r() < 0.6) for (let j = i; j < i + 4096; j++) b[j] = (r() * 256) | 0;
  writeFileSync(path, b);
}

export const crashWorkloads: CrashSpec[] = [
  {
    name: 'engine-created, 4 KiB clusters',
    seed: 501,
    dense: 30,
    budget: 50,
    async build(p, seed) {
      const path = p('pl-created.qcow2');
      await createImage(path, { size: 8 * M, clusterSize: 4 * K });
      const g = { virtualSize: 8 * M, clusterSize: 4 * K, l2Span: 512 * 4 * K };
      return { name: this.name, path, virtualSize: g.virtualSize, ops: genWorkload(seed, g, { count: 30, maxLength: 20 * K }), syncEvery: 4 };
    },
  },
  {
    name: 'refcount-table growth (512 B clusters, 64-bit refcounts)',
    seed: 502,
    dense: 30,
    budget: 50,
    async build(p, seed) {
      const path = p('pl-tiny.qcow2');
      qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=512,refcount_bits=64', path, '4M']);
      const g = { virtualSize: 4 * M, clusterSize: 512, l2Span: 64 * 512 };
      // About 2.5 MiB of new data: past the 2 MiB the first refcount-table cluster can describe.
      const ops = genWorkload(seed, g, { count: 14, maxLength: 128 * K }).map((op, i) =>
        i % 2 ? op : { ...op, length: Math.min(260 * K, g.virtualSize - op.offset) },
      );
      return { name: this.name, path, virtualSize: g.virtualSize, ops, syncEvery: 3 };
    },
  },
  {
    name: 'compressed clusters shared with a snapshot',
    seed: 503,
    dense: 30,
    budget: 50,
    async build(p, seed) {
      const raw = p('pl-comp.raw');
      rawFile(raw, 2 * M, seed);
      const path = p('pl-comp.qcow2');
      qemuImg(['convert', '-c', '-f', 'raw', '-O', 'qcow2', '-o', 'cluster_size=16k', raw, path]);
      qemuImg(['snapshot', '-c', 'before', path]);
      qemuIo(path, ['write -q -P 9 100000 40000']);
      qemuImg(['convert', '-l', 'snapshot.name=before', '-O', 'raw', path, p('pl-snap.raw')]);
      const snapshotHashes = new Map([['before', sha256File(p('pl-snap.raw'))]]);
      const g = { virtualSize: 2 * M, clusterSize: 16 * K, l2Span: 2048 * 16 * K };
      return { name: this.name, path, virtualSize: g.virtualSize, ops: genWorkload(seed, g, { count: 25, maxLength: 40 * K }), syncEvery: 5, snapshotHashes };
    },
  },
  {
    name: 'extended L2 over a raw backing file',
    seed: 504,
    dense: 30,
    budget: 50,
    async build(p, seed) {
      const base = p('pl-xbase.raw');
      rawFile(base, 4 * M, seed);
      const path = p('pl-xl2.qcow2');
      qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'extended_l2=on,cluster_size=32k', '-b', base, '-F', 'raw', path, '4M']);
      const g = { virtualSize: 4 * M, clusterSize: 32 * K, l2Span: 2048 * 32 * K };
      return { name: this.name, path, virtualSize: g.virtualSize, ops: genWorkload(seed, g, { count: 25, maxLength: 24 * K }), syncEvery: 3 };
    },
  },
  {
    name: '1-bit refcounts, qcow2 backing, v2 image',
    seed: 505,
    dense: 30,
    budget: 50,
    async build(p, seed) {
      const base = p('pl-base1.qcow2');
      qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', base, '4M']);
      qemuIo(base, ['write -q -P 3 0 1M', 'write -q -P 4 3M 512k']);
      const path = p('pl-rc1.qcow2');
      qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=8k,compat=0.10', '-b', base, '-F', 'qcow2', path, '4M']);
      const g = { virtualSize: 4 * M, clusterSize: 8 * K, l2Span: 1024 * 8 * K };
      return { name: this.name, path, virtualSize: g.virtualSize, ops: genWorkload(seed, g, { count: 20, maxLength: 30 * K }), syncEvery: 4 };
    },
  },
  {
    name: 'lazy refcounts with zero-flag and preallocated zero clusters',
    seed: 506,
    dense: 30,
    budget: 50,
    async build(p, seed) {
      const path = p('pl-lazy.qcow2');
      qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'lazy_refcounts=on,cluster_size=16k', path, '4M']);
      qemuIo(path, ['write -q -P 1 0 256k', 'write -q -z 32k 64k', 'write -q -z 1M 64k', 'write -q -P 2 2M 100k']);
      const g = { virtualSize: 4 * M, clusterSize: 16 * K, l2Span: 2048 * 16 * K };
      return { name: this.name, path, virtualSize: g.virtualSize, ops: genWorkload(seed, g, { count: 20, maxLength: 40 * K, limit: 3 * M }), syncEvery: 4 };
    },
  },
  {
    name: 'external data file',
    seed: 507,
    dense: 30,
    budget: 50,
    async build(p, seed) {
      const path = p('pl-df.qcow2');
      const dataFile = p('pl-df.data');
      qemuImg(['create', '-q', '-f', 'qcow2', '-o', `cluster_size=8k,data_file=${dataFile}`, path, '4M']);
      qemuIo(path, ['write -q -P 1 0 100k', 'write -q -z 200k 64k', 'write -q -P 2 3M 64k']);
      const g = { virtualSize: 4 * M, clusterSize: 8 * K, l2Span: 1024 * 8 * K };
      return { name: this.name, path, dataFile, virtualSize: g.virtualSize, ops: genWorkload(seed, g, { count: 20, maxLength: 30 * K }), syncEvery: 4 };
    },
  },
];
