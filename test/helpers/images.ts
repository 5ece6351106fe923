/**
 * Fixture factory: builds each kind of image with qemu-img / qemu-io into a scratch folder, at test time.
 * Every builder returns the path of the image to open (the top of a chain) and syncs what it wrote, so
 * st_blocks and holes (which qemu-img map's heuristics look at) are settled before anyone compares.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, fstatSync, mkdirSync, openSync, readSync, writeFileSync } from 'node:fs';
import { fileExtentAt } from '../../src/qcow2/io/holes';
import { join } from 'node:path';
import { qemuImg, qemuIo } from './qemu';

export interface CreateOptions {
  size: string;
  /** -o options, e.g. { cluster_size: '4k', compat: '0.10' }. */
  o?: Record<string, string | number | boolean>;
  backing?: string;
  backingFmt?: 'qcow2' | 'raw';
}

/** `qemu-img create -f qcow2`, then the qemu-io commands, then a sync of the file. */
export function makeQcow2(path: string, opts: CreateOptions, ioCmds: string[] = []): string {
  const args = ['create', '-q', '-f', 'qcow2'];
  const o = Object.entries(opts.o ?? {}).map(([k, v]) => `${k}=${v === true ? 'on' : v === false ? 'off' : v}`);
  if (o.length) args.push('-o', o.join(','));
  if (opts.backing) args.push('-b', opts.backing, '-F', opts.backingFmt ?? 'qcow2');
  args.push(path, opts.size);
  qemuImg(args);
  if (ioCmds.length) qemuIo(path, ioCmds);
  syncFiles(path);
  return path;
}

/** A raw file of `size` bytes (sparse), with qemu-io commands applied as raw. */
export function makeRaw(path: string, size: string, ioCmds: string[] = []): string {
  qemuImg(['create', '-q', '-f', 'raw', path, size]);
  if (ioCmds.length) qemuIo(path, ioCmds, ['-f', 'raw']);
  syncFiles(path);
  return path;
}

export function syncFiles(...paths: string[]): void {
  execFileSync('sync', paths);
}

/** A small deterministic PRNG (mulberry32), for seeded random workloads. */
import { seededRandom as prng } from '../../src/qcow2/io/fault';
export { prng };

/**
 * qemu-io commands for a seeded mix of data, zero, compressed writes and discards within `size` bytes.
 * Compressed writes come first, each to its own untouched cluster (`unit`), since qemu refuses to
 * compress into an allocated cluster.
 */
export function randomWorkload(seed: number, size: number, unit: number, count: number, kinds = ['write', 'zero', 'discard', 'compress']): string[] {
  const rnd = prng(seed);
  const compressed: string[] = [];
  const cmds: string[] = [];
  const units = Math.max(1, Math.floor(size / unit));
  const used = new Set<number>();
  for (let i = 0; i < count; i++) {
    const kind = kinds[Math.floor(rnd() * kinds.length)];
    const u = Math.floor(rnd() * units);
    const start = u * unit;
    const len = Math.min(size - start, unit * (1 + Math.floor(rnd() * 3)));
    const pattern = 1 + Math.floor(rnd() * 250);
    if (kind === 'write') {
      // Unaligned pieces too: partial cluster writes exercise COW and holes.
      const off = Math.min(start + Math.floor(rnd() * 4) * 512, size - 512);
      cmds.push(`write -P ${pattern} ${off} ${Math.min(len, size - off)}`);
    } else if (kind === 'zero') cmds.push(`write -z ${start} ${len}`);
    else if (kind === 'discard') cmds.push(`discard ${start} ${len}`);
    else if (!used.has(u) && start + unit <= size) {
      used.add(u);
      compressed.push(`write -c -P ${pattern} ${start} ${unit}`);
    }
  }
  return [...compressed, ...cmds];
}

/** A named image kind for parity tests; `build` makes it inside `dir` and returns the image path. */
export interface ImageKind {
  name: string;
  build(dir: string): string;
  /** Large sparse images: compare converted output by extents instead of whole-file hashes. */
  huge?: boolean;
}

const KiB = 1024;
const MiB = 1024 * KiB;

/** The image kinds the read-parity suite runs over. Others may reuse them. */
export const READ_IMAGE_KINDS: ImageKind[] = [
  {
    name: 'v2 (compat=0.10) with data and discards',
    build: (d) =>
      makeQcow2(join(d, 'v2.qcow2'), { size: '4M', o: { compat: '0.10' } }, ['write -P 1 0 100k', 'write -P 2 1M 64k', 'discard 1M 64k', 'write -P 3 3M 4k']),
  },
  {
    name: 'v3 with zero clusters, discards and a partial cluster',
    build: (d) =>
      makeQcow2(join(d, 'v3.qcow2'), { size: '4M' }, ['write -P 1 0 192k', 'write -z 64k 64k', 'discard 128k 64k', 'write -P 5 1M 4k', 'write -z 2M 1M']),
  },
  ...[512, 4 * KiB, 64 * KiB, 2 * MiB].map<ImageKind>((cs) => ({
    name: `cluster size ${cs}`,
    build: (d) =>
      makeQcow2(join(d, `cs${cs}.qcow2`), { size: cs >= MiB ? '64M' : '4M', o: { cluster_size: cs } }, [
        `write -P 7 0 ${cs * 3 + 512}`,
        `write -z ${cs * 8} ${cs * 2}`,
        `write -P 8 ${cs * 20 + 1024} 3k`,
        `discard ${cs} ${cs}`,
      ]),
  })),
  ...[1, 2, 4, 8, 16, 32, 64].map<ImageKind>((bits) => ({
    name: `refcount bits ${bits}`,
    build: (d) =>
      makeQcow2(join(d, `rc${bits}.qcow2`), { size: '4M', o: { refcount_bits: bits, cluster_size: '4k' } }, [
        'write -P 9 0 40k',
        'write -c -P 10 1M 4k',
        'write -P 11 2M 8k',
      ]),
  })),
  {
    name: 'zlib compressed clusters (qemu-io write -c), partly overwritten',
    build: (d) =>
      makeQcow2(join(d, 'zlib.qcow2'), { size: '4M' }, [
        'write -c -P 12 0 64k',
        'write -c -P 13 64k 64k',
        'write -c 128k 64k',
        'write -P 14 64k 4k',
        'write -c -P 15 2M 128k',
      ]),
  },
  {
    name: 'zstd compressed image (qemu-img convert -c)',
    build: (d) => {
      const src = makeQcow2(join(d, 'zsrc.qcow2'), { size: '4M' }, ['write -P 16 0 300k', 'write -P 17 1M 64k', 'write -P 0 2M 64k']);
      const out = join(d, 'zstd.qcow2');
      qemuImg(['convert', '-q', '-c', '-O', 'qcow2', '-o', 'compression_type=zstd', src, out]);
      syncFiles(out);
      return out;
    },
  },
  {
    name: 'zstd compressed writes (qemu-io write -c)',
    build: (d) =>
      makeQcow2(join(d, 'zstd2.qcow2'), { size: '4M', o: { compression_type: 'zstd', cluster_size: '16k' } }, [
        'write -c -P 18 0 64k',
        'write -c 64k 16k',
        'write -P 19 8k 1k',
      ]),
  },
  ...[64 * KiB, 2 * MiB].map<ImageKind>((cs) => ({
    name: `extended L2, ${cs / KiB}k clusters, subcluster and zero writes`,
    build: (d) => {
      const sub = cs / 32;
      return makeQcow2(join(d, `xl2-${cs}.qcow2`), { size: cs >= MiB ? '16M' : '4M', o: { extended_l2: true, cluster_size: cs } }, [
        `write -P 20 0 ${sub}`,
        `write -P 21 ${sub * 3} ${sub * 2}`,
        `write -z ${sub * 8} ${sub * 4}`,
        `write -P 22 ${cs + sub * 31} ${sub * 2}`,
        `write -z ${cs * 4} ${cs}`,
        `discard ${sub * 3} ${sub}`,
        `write -c -P 23 ${cs * 5} ${cs}`,
      ]);
    },
  })),
  {
    name: 'extended L2 overlay on a qcow2 backing file (unallocated subclusters fall through)',
    build: (d) => {
      const base = makeQcow2(join(d, 'xbase.qcow2'), { size: '4M' }, ['write -P 24 0 1M']);
      return makeQcow2(join(d, 'xtop.qcow2'), { size: '4M', backing: base, o: { extended_l2: true } }, [
        'write -P 25 2k 2k',
        'write -z 64k 8k',
        'write -P 26 3M 2k',
      ]);
    },
  },
  {
    name: 'three-layer chain: raw base, qcow2 middle, larger overlay',
    build: (d) => {
      const base = makeRaw(join(d, 'base.raw'), '1M', ['write -P 30 64k 64k', 'write -P 31 512k 4k']);
      const mid = makeQcow2(join(d, 'mid.qcow2'), { size: '1056k', backing: base, backingFmt: 'raw' }, [
        'write -P 32 192k 64k',
        'write -z 512k 64k',
        'write -P 33 1M 32k',
      ]);
      return makeQcow2(join(d, 'top.qcow2'), { size: '3M', backing: mid }, ['write -P 34 0 4k', 'write -P 35 2M 64k', 'write -z 128k 64k']);
    },
  },
  {
    name: 'relative backing path in another folder',
    build: (d) => {
      mkdirSync(join(d, 'sub'));
      makeQcow2(join(d, 'rbase.qcow2'), { size: '2M' }, ['write -P 40 0 256k']);
      const top = join(d, 'sub', 'rtop.qcow2');
      qemuImg(['create', '-q', '-f', 'qcow2', '-b', '../rbase.qcow2', '-F', 'qcow2', top]);
      qemuIo(top, ['write -P 41 128k 64k']);
      syncFiles(top);
      return top;
    },
  },
  {
    name: 'external data file',
    build: (d) =>
      makeQcow2(join(d, 'ext.qcow2'), { size: '4M', o: { data_file: join(d, 'ext.data') } }, ['write -P 50 0 128k', 'write -z 1M 64k', 'write -P 51 2M 4k']),
  },
  {
    name: 'external data file with data_file_raw',
    build: (d) =>
      makeQcow2(join(d, 'extraw.qcow2'), { size: '4M', o: { data_file: join(d, 'extraw.data'), data_file_raw: true } }, [
        'write -P 52 0 128k',
        'write -P 53 3M 4k',
      ]),
  },
  {
    name: 'internal snapshot and bitmaps',
    build: (d) => {
      const p = makeQcow2(join(d, 'snap.qcow2'), { size: '4M' }, ['write -P 60 0 256k']);
      qemuImg(['snapshot', '-c', 'before', p]);
      qemuIo(p, ['write -P 61 64k 64k', 'write -P 62 1M 64k']);
      qemuImg(['snapshot', '-c', 'after ünïcode', p]);
      qemuImg(['bitmap', '--add', p, 'bm0']);
      qemuImg(['bitmap', '--add', '--disable', '-g', '128k', p, 'bm1']);
      syncFiles(p);
      return p;
    },
  },
  {
    name: '4 TiB sparse image written above 4 GiB',
    huge: true,
    build: (d) =>
      makeQcow2(join(d, 'huge.qcow2'), { size: '4T' }, [
        'write -P 70 0 64k',
        'write -P 71 4G 64k',
        'write -P 72 5G 1k',
        'write -z 6G 1M',
        'write -P 73 3T 128k',
        'write -P 74 4095G 64k',
      ]),
  },
  {
    name: 'metadata preallocation',
    build: (d) =>
      makeQcow2(join(d, 'prealloc.qcow2'), { size: '4M', o: { preallocation: 'metadata' } }, ['write -P 80 0 4k', 'write -P 81 1M 64k', 'write -z 2M 64k']),
  },
  {
    name: 'falloc preallocation',
    build: (d) => makeQcow2(join(d, 'falloc.qcow2'), { size: '2M', o: { preallocation: 'falloc' } }, ['write -P 82 64k 8k']),
  },
  {
    name: 'seeded random workload, 4k clusters',
    build: (d) => makeQcow2(join(d, 'rand4k.qcow2'), { size: '2M', o: { cluster_size: '4k' } }, randomWorkload(1234, 2 * MiB, 4 * KiB, 60)),
  },
  {
    name: 'seeded random workload on a backing chain',
    build: (d) => {
      const base = makeQcow2(join(d, 'rbase2.qcow2'), { size: '2M' }, randomWorkload(99, 2 * MiB, 64 * KiB, 20));
      return makeQcow2(
        join(d, 'rtop2.qcow2'),
        { size: '3M', backing: base, o: { cluster_size: '32k' } },
        randomWorkload(7, 3 * MiB, 32 * KiB, 30, ['write', 'zero', 'compress']),
      );
    },
  },
  {
    name: 'raw backing file whose size is not a multiple of 512',
    build: (d) => {
      const base = writeBytes(
        join(d, 'odd.raw'),
        Uint8Array.from({ length: 1000 }, (_, i) => (i * 7 + 1) & 255),
      );
      syncFiles(base);
      return makeQcow2(join(d, 'onodd.qcow2'), { size: '64k', backing: base, backingFmt: 'raw' }, ['write -P 3 60k 1k']);
    },
  },
  {
    name: 'empty image with an empty (all-hole) raw backing file',
    build: (d) => {
      const base = makeRaw(join(d, 'hole.raw'), '2M');
      return makeQcow2(join(d, 'onhole.qcow2'), { size: '2M', backing: base, backingFmt: 'raw' });
    },
  },
];

/**
 * A random image kind from a seed: cluster size 512 B to 2 MiB, extended L2, refcount width, zstd,
 * metadata preallocation, an optional raw or qcow2 backing file of another size, and a random workload.
 */
export function randomImageKind(seed: number): ImageKind {
  const r = prng(seed * 7919);
  const xl2 = r() < 0.4;
  const cs = xl2 ? [16384, 65536, 2097152][Math.floor(r() * 3)] : [512, 4096, 16384, 65536, 262144, 2097152][Math.floor(r() * 6)];
  const size = cs * (8 + Math.floor(r() * 40)) + (r() < 0.3 ? 512 * Math.floor(r() * 100) : 0);
  const o: Record<string, string | number | boolean> = { cluster_size: cs, refcount_bits: 2 ** Math.floor(r() * 7) };
  if (xl2) o.extended_l2 = true;
  if (r() < 0.3) o.compression_type = 'zstd';
  const wantPrealloc = r() < 0.15;
  const chain = r();
  const backingSize = Math.max(512, Math.floor(size * (0.3 + r())) & ~511);
  if (wantPrealloc && chain >= 0.6) o.preallocation = 'metadata';
  const name = `seed ${seed}: ${Object.entries(o)
    .map(([k, v]) => `${k}=${v}`)
    .join(',')} size=${size}${chain < 0.3 ? ' on raw' : chain < 0.6 ? ' on qcow2' : ''}`;
  return {
    name,
    build: (d) => {
      let backing: string | undefined;
      if (chain < 0.3) backing = makeRaw(join(d, 'base.raw'), String(backingSize), randomWorkload(seed, backingSize, 65536, 5, ['write', 'zero']));
      else if (chain < 0.6) backing = makeQcow2(join(d, 'base.qcow2'), { size: String(backingSize) }, randomWorkload(seed + 1, backingSize, 65536, 10));
      const kinds = o.preallocation ? ['write', 'zero', 'discard'] : ['write', 'zero', 'discard', 'compress'];
      return makeQcow2(
        join(d, 'img.qcow2'),
        { size: String(size), o, backing, backingFmt: chain < 0.3 ? 'raw' : 'qcow2' },
        randomWorkload(seed + 2, size, cs, 25, kinds),
      );
    },
  };
}

/**
 * True when two files hold the same bytes, reading only where either has data (a 4 TiB sparse file
 * compares in milliseconds); sizes must match too.
 */
export async function sameContent(a: string, b: string): Promise<boolean> {
  const [fa, fb] = [openSync(a, 'r'), openSync(b, 'r')];
  try {
    const size = fstatSync(fa).size;
    if (fstatSync(fb).size !== size) return false;
    const chunk = 4 * MiB;
    const bufA = Buffer.alloc(chunk);
    const bufB = Buffer.alloc(chunk);
    let pos = 0;
    while (pos < size) {
      const ea = fileExtentAt(fa, size, pos);
      const eb = fileExtentAt(fb, size, pos);
      const end = Math.min(ea.end, eb.end, size, pos + chunk);
      if (!(ea.hole && eb.hole)) {
        const n = end - pos;
        readSync(fa, bufA, 0, n, pos);
        readSync(fb, bufB, 0, n, pos);
        if (!bufA.subarray(0, n).equals(bufB.subarray(0, n))) return false;
      }
      pos = end;
    }
    return true;
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

/** Writes a file of bytes (for hand-built corrupt images). */
export function writeBytes(path: string, data: Uint8Array): string {
  writeFileSync(path, data);
  return path;
}
