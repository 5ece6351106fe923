/** The options of `create`, checked with QEMU's rules (the same combinations qemu-img refuses), defaults filled in. */
import { alignUp } from './format/bytes';
import { Qcow2Error } from './errors';
import { MAX_BACKING_NAME, MAX_VIRTUAL_SIZE } from './format/header';
import { normalizeLuksOptions, type LuksCreateOptions, type NormalizedLuksOptions } from './crypto/luks-create';

export interface CreateOptions {
  /** Virtual size in bytes; rounded up to a multiple of 512 as QEMU does. */
  size: number;
  /** 512 B .. 2 MiB, a power of two (default 64 KiB). */
  clusterSize?: number;
  /** 1, 2, 4, 8, 16, 32 or 64 (default 16). */
  refcountBits?: number;
  /** '0.10' writes a version 2 image, '1.1' (default) version 3. */
  compat?: '0.10' | '1.1';
  extendedL2?: boolean;
  compressionType?: 'zlib' | 'zstd';
  lazyRefcounts?: boolean;
  /** Backing file name, recorded as given (relative names are relative to the new image's folder). */
  backingFile?: string;
  backingFormat?: string;
  /** External data file name, recorded as given. */
  dataFile?: string;
  dataFileRaw?: boolean;
  /** 'metadata' allocates every L2 table and data cluster up front (data clusters read as zeros: sparse). */
  preallocation?: 'off' | 'metadata';
  /** LUKS encryption (qemu-img's encrypt.format=luks and encrypt.*), keyed by its passphrase. */
  encrypt?: LuksCreateOptions;
}

/** Where everything goes in a new image, in clusters and bytes. */
export function invalid(file: string, reason: string): Qcow2Error {
  return new Qcow2Error('invalid-argument', reason, file);
}

const isPow2 = (v: number): boolean => Number.isInteger(v) && v > 0 && (v & (v - 1)) === 0;

/** Create options with every default filled in. */
export type NormalizedCreateOptions = Required<Omit<CreateOptions, 'backingFile' | 'backingFormat' | 'dataFile' | 'encrypt'>> &
  Omit<CreateOptions, 'encrypt'> & { encrypt?: NormalizedLuksOptions };

/** Checks option combinations with QEMU's rules; returns the options with defaults filled in. */
export function normalizeCreateOptions(opts: CreateOptions, file: string): NormalizedCreateOptions {
  const clusterSize = opts.clusterSize ?? 65536;
  const refcountBits = opts.refcountBits ?? 16;
  const compat = opts.compat ?? '1.1';
  const o = {
    ...opts,
    clusterSize,
    refcountBits,
    compat,
    extendedL2: opts.extendedL2 ?? false,
    compressionType: opts.compressionType ?? 'zlib',
    lazyRefcounts: opts.lazyRefcounts ?? false,
    dataFileRaw: opts.dataFileRaw ?? false,
    preallocation: opts.preallocation ?? 'off',
    size: alignUp(opts.size, 512),
    encrypt: opts.encrypt && normalizeLuksOptions(opts.encrypt, file),
  };
  if (!Number.isSafeInteger(opts.size) || opts.size < 0) throw invalid(file, `invalid image size ${opts.size}`);
  if (o.size > MAX_VIRTUAL_SIZE) throw invalid(file, `image size ${opts.size} is too large`);
  if (!isPow2(clusterSize) || clusterSize < 512 || clusterSize > 2 * 1024 * 1024) {
    throw invalid(file, 'cluster size must be a power of two between 512 and 2048k');
  }
  if (!isPow2(refcountBits) || refcountBits > 64) throw invalid(file, 'refcount width must be a power of two and may not exceed 64 bits');
  if (compat !== '0.10' && compat !== '1.1') throw invalid(file, `invalid compatibility level '${String(compat)}' (use 0.10 or 1.1)`);
  if (o.compressionType !== 'zlib' && o.compressionType !== 'zstd')
    throw invalid(file, `unknown compression type '${String(o.compressionType)}' (use zlib or zstd)`);
  if (compat === '0.10') {
    const v3Only: Array<[boolean, string]> = [
      [refcountBits !== 16, 'refcount widths other than 16 bits'],
      [o.lazyRefcounts, 'lazy refcounts'],
      [o.extendedL2, 'extended L2 entries'],
      [o.compressionType !== 'zlib', 'compression types other than zlib'],
      [o.dataFile !== undefined, 'external data files'],
    ];
    for (const [bad, what] of v3Only) if (bad) throw invalid(file, `${what} need compatibility level 1.1 (compat=1.1)`);
  }
  if (o.extendedL2 && clusterSize < 16384) throw invalid(file, 'extended L2 entries need clusters of at least 16 KiB');
  if (o.backingFile !== undefined) {
    if (o.backingFile === '') throw invalid(file, 'empty backing file name');
    if (o.backingFormat === undefined) throw invalid(file, 'backing file specified without backing format (use -F)');
    if (Buffer.byteLength(o.backingFile) > MAX_BACKING_NAME) throw invalid(file, 'backing file name is too long');
  } else if (o.backingFormat !== undefined) throw invalid(file, 'backing format specified without a backing file');
  if (o.dataFileRaw && o.dataFile === undefined) throw invalid(file, 'data_file_raw needs data_file');
  if (o.dataFileRaw && o.backingFile !== undefined) throw invalid(file, 'a backing file and data_file_raw cannot be used together');
  if (o.dataFile === '') throw invalid(file, 'empty data file name');
  if (o.preallocation !== 'off' && o.preallocation !== 'metadata')
    throw invalid(file, `unsupported preallocation mode '${String(o.preallocation)}' (use off or metadata)`);
  if (o.preallocation === 'metadata' && o.dataFile !== undefined && !o.dataFileRaw) {
    throw invalid(file, 'preallocation=metadata with a data file needs data_file_raw=on');
  }
  if (o.preallocation === 'metadata' && o.backingFile !== undefined && !o.extendedL2) {
    throw invalid(file, 'a backing file and preallocation can only be used together with extended_l2=on');
  }
  // This engine reads encrypted data at host offsets of the image file itself, and preallocated clusters of an
  // encrypted image would decrypt to noise: both stay out of encrypted images here.
  if (o.encrypt && o.dataFile !== undefined) throw invalid(file, 'encryption with an external data file is not supported');
  if (o.encrypt && o.preallocation !== 'off') throw invalid(file, 'preallocation of an encrypted image is not supported');
  return o;
}
