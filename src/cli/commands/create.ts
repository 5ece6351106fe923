import { parseArgs, parseOptionList, parseSize, UsageError } from '../args';
import { writeOut, type CliCommand } from '../command';
import { createImage, type CreateOptions } from '../../qcow2';
import { takeImageArgs } from '../image-secrets';
import { encryptOptionsFrom } from '../create-encrypt';

const KNOWN = [
  'cluster_size',
  'refcount_bits',
  'compat',
  'extended_l2',
  'compression_type',
  'lazy_refcounts',
  'backing_file',
  'backing_fmt',
  'data_file',
  'data_file_raw',
  'preallocation',
];

function onOff(name: string, v: string): boolean {
  if (v === 'on' || v === 'true') return true;
  if (v === 'off' || v === 'false') return false;
  throw new UsageError(`parameter '${name}' must be on or off, not '${v}'`);
}

function compatLevel(v: string): '0.10' | '1.1' {
  if (v === '0.10' || v === 'v2') return '0.10';
  if (v === '1.1' || v === 'v3') return '1.1';
  throw new UsageError(`invalid compat '${v}' (use 0.10 or 1.1)`);
}

/** A signed number, as QEMU's number options parse it: a negative one is then refused for what it is (iotest 112). */
function integer(name: string, v: string): number {
  if (!/^-?\d+$/.test(v)) throw new UsageError(`parameter '${name}' must be a number, not '${v}'`);
  return Number(v);
}

/** The image options of `-o` (qemu-img create's names), without size and backing file; unknown names are refused. */
export function createOptionsFrom(o: Map<string, string>): Omit<CreateOptions, 'size'> {
  for (const k of o.keys()) if (!KNOWN.includes(k)) throw new UsageError(`invalid parameter '${k}'`);
  const opts: Omit<CreateOptions, 'size'> = {};
  if (o.has('cluster_size')) opts.clusterSize = parseSize(o.get('cluster_size')!, 'cluster size');
  if (o.has('refcount_bits')) opts.refcountBits = integer('refcount_bits', o.get('refcount_bits')!);
  if (o.has('compat')) opts.compat = compatLevel(o.get('compat')!);
  if (o.has('extended_l2')) opts.extendedL2 = onOff('extended_l2', o.get('extended_l2')!);
  if (o.has('lazy_refcounts')) opts.lazyRefcounts = onOff('lazy_refcounts', o.get('lazy_refcounts')!);
  if (o.has('data_file_raw')) opts.dataFileRaw = onOff('data_file_raw', o.get('data_file_raw')!);
  if (o.has('data_file')) opts.dataFile = o.get('data_file');
  const prealloc = o.get('preallocation');
  if (prealloc !== undefined) {
    if (prealloc !== 'off' && prealloc !== 'metadata') throw new UsageError(`unsupported preallocation '${prealloc}' (use off or metadata)`);
    opts.preallocation = prealloc;
  }
  const comp = o.get('compression_type');
  if (comp !== undefined) {
    if (comp !== 'zlib' && comp !== 'zstd') throw new UsageError(`invalid compression_type '${comp}' (use zlib or zstd)`);
    opts.compressionType = comp;
  }
  return opts;
}

/** `create`: a new qcow2 image, as qemu-img create does. */
export const createCommand: CliCommand = {
  name: 'create',
  usage: 'create [-q] [-f qcow2] [--object secret,id=ID,file=F | --passphrase-file F] [-o OPTIONS] [-b BACKING -F FMT] IMAGE [SIZE]',
  summary:
    'create a qcow2 image (-o cluster_size, refcount_bits, compat, extended_l2, compression_type, lazy_refcounts, preallocation, data_file, encrypt.format=luks, encrypt.*)',
  async run(argv, io) {
    const secrets = takeImageArgs(argv, io);
    const args = parseArgs(secrets.argv, 'fobF', 'q');
    const fmt = args.short.get('f') ?? 'qcow2';
    if (fmt !== 'qcow2') throw new UsageError(`only qcow2 images can be created, not '${fmt}'`);
    const o = new Map<string, string>();
    // -o may repeat in spirit via commas; later values win, as in qemu-img.
    for (const [k, v] of parseOptionList(args.short.get('o'))) o.set(k, v);
    const [path, sizeText, ...extra] = args.positional;
    if (!path || extra.length > 0) throw new UsageError('expected IMAGE [SIZE]');

    const encryptEcho: string[] = [];
    const encrypt = encryptOptionsFrom(o, path, secrets, encryptEcho);
    const opts: Omit<CreateOptions, 'size'> & { size?: number } = { ...createOptionsFrom(o), encrypt };
    if (sizeText !== undefined) opts.size = parseSize(sizeText, 'image size');
    const prealloc = o.get('preallocation');
    const backing = args.short.get('b') ?? o.get('backing_file');
    const backingFmt = args.short.get('F') ?? o.get('backing_fmt');
    if (backing !== undefined) opts.backingFile = backing;
    if (backingFmt !== undefined) opts.backingFormat = backingFmt;
    if (opts.size === undefined && backing === undefined) throw new UsageError('expected IMAGE SIZE (SIZE may be left out only with -b)');

    const layout = await createImage(path, opts);
    if (!args.short.has('q')) {
      const parts = [
        `fmt=qcow2`,
        ...encryptEcho,
        `cluster_size=${layout.clusterSize}`,
        `extended_l2=${opts.extendedL2 ? 'on' : 'off'}`,
        ...(prealloc !== undefined ? [`preallocation=${prealloc}`] : []),
        `compression_type=${opts.compressionType ?? 'zlib'}`,
        `size=${opts.size ?? layout.virtualSize}`,
      ];
      if (opts.compat) parts.push(`compat=${opts.compat}`);
      if (backing !== undefined) parts.push(`backing_file=${backing}`, `backing_fmt=${backingFmt}`);
      if (opts.dataFile !== undefined) parts.push(`data_file=${opts.dataFile}`);
      if (o.has('data_file_raw')) parts.push(`data_file_raw=${opts.dataFileRaw ? 'on' : 'off'}`);
      parts.push(`lazy_refcounts=${opts.lazyRefcounts ? 'on' : 'off'}`, `refcount_bits=${opts.refcountBits ?? 16}`);
      await writeOut(io.stdout, `Formatting '${path}', ${parts.join(' ')}\n`);
    }
    return 0;
  },
};
