/**
 * Builds the fuzz seed corpus: small qemu-img images covering the read-side features (cluster sizes, v2, refcount
 * widths, extended L2, zero and compressed clusters, zstd, snapshots, bitmaps, backing names, data files) plus
 * every single-file malformed case. Run by scripts/fuzz.mjs at fuzz time; nothing is committed.
 *   node --import tsx test/fuzz/seed-corpus.ts OUTDIR
 */
import { closeSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { buildCorpusCases, qemuImgSync, qemuIoSync } from './malformed-cases';
import { buildGuestFsSeeds } from './guestfs-seeds';
import { buildFatNtfsSeeds } from './guestfs-seeds-fat-ntfs';

/** Inputs above this are not useful seeds: mutation slows down with size. */
export const MAX_SEED_BYTES = 128 * 1024;

interface Seed {
  name: string;
  create: string[];
  size?: string;
  io?: string[];
  after?: (p: string) => void;
}

const data = ['write -q -P 0x11 0 8k', 'write -q -z 16k 4k', 'write -q -P 0x22 40k 2k'];

const seeds: Seed[] = [
  { name: 'v3-4k', create: ['cluster_size=4096'], io: data },
  { name: 'v3-512', create: ['cluster_size=512'], io: data },
  { name: 'v3-1k-refcount1', create: ['cluster_size=1024', 'refcount_bits=1'], io: data },
  { name: 'v3-2k-refcount64', create: ['cluster_size=2048', 'refcount_bits=64'], io: data },
  { name: 'v3-4k-refcount8', create: ['cluster_size=4096', 'refcount_bits=8'], io: data },
  { name: 'v2-4k', create: ['cluster_size=4096', 'compat=0.10'], io: data },
  { name: 'extl2-16k', create: ['cluster_size=16384', 'extended_l2=on'], io: ['write -q -P 0x33 0 1k', 'write -q -z 2k 1k', 'write -q -P 0x44 8k 512'] },
  { name: 'lazy-4k', create: ['cluster_size=4096', 'lazy_refcounts=on'], io: data },
  { name: 'empty-4k', create: ['cluster_size=4096'] },
  { name: 'zero-size', create: ['cluster_size=4096'], size: '0' },
  { name: 'zstd-4k', create: ['cluster_size=4096', 'compression_type=zstd'], io: ['write -q -c -P 0x55 0 4k', 'write -q -c -P 0x66 4k 4k'] },
  { name: 'deflate-4k', create: ['cluster_size=4096'], io: ['write -q -c -P 0x55 0 4k', 'write -q -P 0x66 8k 4k'] },
  { name: 'deflate-512', create: ['cluster_size=512'], io: ['write -q -c -P 0x77 0 2k'] },
  {
    name: 'snapshots-4k',
    create: ['cluster_size=4096'],
    io: data,
    after: (p) => (qemuImgSync(['snapshot', '-c', 'first', p]), qemuIoSync(p, ['write -q -P 0x99 0 4k']), qemuImgSync(['snapshot', '-c', 'second', p])),
  },
  {
    name: 'bitmaps-4k',
    create: ['cluster_size=4096'],
    io: data,
    after: (p) => (qemuImgSync(['bitmap', '--add', p, 'dirty0']), qemuImgSync(['bitmap', '--add', '-g', '65536', p, 'dirty1'])),
  },
  { name: 'backing-name-4k', create: ['cluster_size=4096', 'backing_file=base.qcow2', 'backing_fmt=qcow2'], io: [] },
  { name: 'backing-raw-4k', create: ['cluster_size=4096', 'backing_file=base.raw', 'backing_fmt=raw'], io: [] },
  { name: 'data-file-4k', create: ['cluster_size=4096', 'data_file=data.raw', 'data_file_raw=on'] },
  // Damage qemu-img opens or repairs (issue #19): the open, check and -r all paths for them start from here.
  { name: 'snapshot-extra-64k-4k', create: ['cluster_size=4096'], io: data, after: (p) => (snapshotPair(p), patchU32(p, secondEntry(p) + 36, 0x10000)) },
  { name: 'snapshot-l1-unaligned-4k', create: ['cluster_size=4096'], io: data, after: (p) => (snapshotPair(p), patchU32(p, secondEntry(p) + 4, 0x200)) },
  { name: 'snapshot-count-65537-4k', create: ['cluster_size=4096'], io: data, after: (p) => (snapshotPair(p), patchU32(p, 60, 65537)) },
  { name: 'l2-past-eof-4k', create: ['cluster_size=4096'], io: data, after: (p) => patchU32(p, readFileSync(p).readUInt32BE(44), 0x100000) },
  { name: 'large-virtual-4k', create: ['cluster_size=4096'], size: '8G', io: ['write -q -P 0x12 0 4k', 'write -q -P 0x13 7G 4k'] },
];

function snapshotPair(p: string): void {
  qemuImgSync(['snapshot', '-c', 'first', p]);
  qemuImgSync(['snapshot', '-c', 'second', p]);
}

/** Offset of the second snapshot table entry (entries are 8-byte aligned). */
function secondEntry(p: string): number {
  const b = readFileSync(p);
  const first = Number(b.readBigUInt64BE(64));
  return first + Math.ceil((40 + b.readUInt32BE(first + 36) + b.readUInt16BE(first + 12) + b.readUInt16BE(first + 14)) / 8) * 8;
}

function patchU32(p: string, offset: number, v: number): void {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v);
  const fd = openSync(p, 'r+');
  try {
    writeSync(fd, b, 0, 4, offset);
  } finally {
    closeSync(fd);
  }
}

export function buildSeedCorpus(outDir: string): number {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const work = join(outDir, '.work');
  mkdirSync(work);
  for (const s of seeds) {
    const p = join(work, `${s.name}.qcow2`);
    try {
      const opts = s.create.map((o) => (o.startsWith('backing_file=') || o.startsWith('data_file=') ? o.replace('=', `=${work}/`) : o));
      // Backing files need not exist: -u records the name without opening it.
      qemuImgSync([
        'create',
        '-q',
        '-f',
        'qcow2',
        ...(s.create.some((o) => o.startsWith('backing_file')) ? ['-u'] : []),
        '-o',
        opts.join(','),
        p,
        s.size ?? (s.create.some((o) => o.startsWith('backing_file')) ? '1M' : '1M'),
      ]);
      if (s.io?.length) qemuIoSync(p, s.io, s.create.some((o) => o.startsWith('backing_file')) ? ['-f', 'qcow2', '-U'] : []);
      s.after?.(p);
    } catch (err) {
      process.stderr.write(`seed ${s.name} skipped: ${(err as Error).message.split('\n')[0]}\n`);
    }
  }
  try {
    const gdir = join(work, 'guestfs');
    mkdirSync(gdir);
    buildGuestFsSeeds(gdir);
  } catch (err) {
    process.stderr.write(`guest file-system seeds skipped: ${(err as Error).message.split('\n')[0]}\n`);
  }
  buildCorpusCases(join(work, 'malformed'), 4096);
  buildCorpusCases(join(work, 'malformed-512'), 512);
  let n = 0;
  const collect = (dir: string, prefix: string): void => {
    for (const f of readdirSync(dir)) {
      const p = join(dir, f);
      const st = statSync(p);
      if (st.isDirectory()) collect(p, `${prefix}${f}-`);
      else if (f.endsWith('.qcow2') && st.size <= MAX_SEED_BYTES) {
        renameSync(p, join(outDir, `${prefix}${f}`));
        n++;
      }
    }
  };
  collect(work, '');
  rmSync(work, { recursive: true, force: true });
  return n;
}

/** FAT and NTFS volumes as qcow2 seeds for the guestfs stage (needs dosfstools, mtools, ntfs-3g; skipped without). */
export async function addGuestFsSeeds(outDir: string): Promise<number> {
  const work = join(outDir, '.guestfs');
  try {
    const made = await buildFatNtfsSeeds(work);
    for (const p of made) if (statSync(p).size <= MAX_SEED_BYTES) renameSync(p, join(outDir, `guestfs-${p.split('/').pop()}`));
    return made.length;
  } catch (err) {
    process.stderr.write(`guest file-system seeds skipped: ${(err as Error).message.split('\n')[0]}\n`);
    return 0;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  const out = process.argv[2];
  if (!out) throw new Error('usage: seed-corpus.ts OUTDIR');
  const n = buildSeedCorpus(out);
  void addGuestFsSeeds(out).then((g) => process.stdout.write(`${n + g} seed images in ${out} (${g} guest file systems)\n`));
}
