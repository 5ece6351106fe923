import { u32, u64OrNull, isAligned } from './bytes';
import { badImage, Qcow2Error } from '../errors';
import { parseHeaderExtensions, type HeaderExtensions } from './header-extensions';
import { readFully, type Qcow2IoOps } from '../io/ops';

export const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
export const V2_HEADER_LENGTH = 72;
export const V3_MIN_HEADER_LENGTH = 104;

/** Incompatible feature bits. */
export const INCOMPAT_DIRTY = 1 << 0;
export const INCOMPAT_CORRUPT = 1 << 1;
export const INCOMPAT_DATA_FILE = 1 << 2;
export const INCOMPAT_COMPRESSION = 1 << 3;
export const INCOMPAT_EXTL2 = 1 << 4;
export const INCOMPAT_KNOWN = 0x1f;
/** Compatible feature bits. */
export const COMPAT_LAZY_REFCOUNTS = 1 << 0;
/** Autoclear feature bits. */
export const AUTOCLEAR_BITMAPS = 1 << 0;
export const AUTOCLEAR_DATA_FILE_RAW = 1 << 1;
export const AUTOCLEAR_KNOWN = 0x3;

/** QEMU's limits (block/qcow2.h). */
export const MAX_L1_BYTES = 32 * 1024 * 1024;
export const MAX_REFTABLE_BYTES = 8 * 1024 * 1024;
export const MAX_SNAPSHOTS = 65536;
export const MAX_BACKING_NAME = 1023;
/** Largest virtual size we address: offsets are JS numbers, exact to 2^53. */
export const MAX_VIRTUAL_SIZE = 2 ** 53 - 2 ** 21;

/** A 64-bit feature mask split into words (no BigInt). */
export interface FeatureBits {
  hi: number;
  lo: number;
}

export interface Qcow2Header {
  version: 2 | 3;
  backingFileOffset: number;
  backingFileSize: number;
  clusterBits: number;
  size: number;
  cryptMethod: number;
  l1Size: number;
  l1TableOffset: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  nbSnapshots: number;
  snapshotsOffset: number;
  incompatibleFeatures: FeatureBits;
  compatibleFeatures: FeatureBits;
  autoclearFeatures: FeatureBits;
  refcountOrder: number;
  headerLength: number;
  /** 0 deflate, 1 zstd. */
  compressionType: number;
  /** Header bytes past the fields we know (kept when the header is rewritten). */
  unknownHeaderTail: Uint8Array;
  extensions: HeaderExtensions;
  /** The backing file name exactly as recorded, or undefined. */
  backingFile?: string;
}

/**
 * The bytes parseHeader needs: the first cluster (extensions and the backing name live there), read once the
 * cluster size is known from the first 4 KiB; with the file's size.
 */
export async function readHeaderCluster(io: Qcow2IoOps): Promise<{ bytes: Uint8Array; fileSize: number }> {
  const fileSize = await io.size();
  let bytes = new Uint8Array(Math.min(fileSize, 4096));
  await readFully(io, bytes, 0);
  const clusterBits = bytes.length >= 24 ? u32(bytes, 20) : 0;
  if (clusterBits >= 9 && clusterBits <= 21 && 2 ** clusterBits > bytes.length && fileSize > bytes.length) {
    bytes = new Uint8Array(Math.min(fileSize, 2 ** clusterBits));
    await readFully(io, bytes, 0);
  }
  return { bytes, fileSize };
}

/**
 * Reads and validates a header from the first cluster (or at least the first 4 KiB) of a file.
 * `forCheck`: as QEMU with BDRV_O_CHECK, a missing (size 0) or offset-0 refcount table is left to the check to report.
 * `allowEncrypted`: the caller has a key (AES or LUKS images are otherwise refused).
 * `unnamedDataFileOk`: as qemu-img info, an image that needs a data file but names none still opens.
 */
export function parseHeader(
  buf: Uint8Array,
  file: string,
  fileSize: number,
  forCheck = false,
  opts: { unnamedDataFileOk?: boolean; allowEncrypted?: boolean } = {},
): Qcow2Header {
  const { unnamedDataFileOk = false, allowEncrypted = false } = opts;
  if (fileSize === 0) throw badImage(file, 'empty file, not a qcow2 image');
  if (buf.length < V2_HEADER_LENGTH || fileSize < V2_HEADER_LENGTH) {
    if (buf.length >= 4 && u32(buf, 0) === QCOW2_MAGIC) throw badImage(file, `truncated header (${fileSize} bytes)`);
    throw badImage(file, 'not a qcow2 image (file too small)');
  }
  if (u32(buf, 0) !== QCOW2_MAGIC) throw badImage(file, 'not a qcow2 image (bad magic)');
  const version = u32(buf, 4);
  if (version !== 2 && version !== 3) throw new Qcow2Error('unsupported', `unsupported qcow2 version ${version}`, file);

  const u64 = (off: number, field: string): number => {
    const v = u64OrNull(buf, off);
    if (v === null) throw badImage(file, `${field} is out of range`);
    return v;
  };
  const words = (off: number): FeatureBits => ({ hi: u32(buf, off), lo: u32(buf, off + 4) });

  const clusterBits = u32(buf, 20);
  if (clusterBits < 9 || clusterBits > 21) throw badImage(file, `cluster_bits ${clusterBits} is outside 9..21`);
  const clusterSize = 2 ** clusterBits;

  let headerLength = V2_HEADER_LENGTH;
  let incompatibleFeatures: FeatureBits = { hi: 0, lo: 0 };
  let compatibleFeatures: FeatureBits = { hi: 0, lo: 0 };
  let autoclearFeatures: FeatureBits = { hi: 0, lo: 0 };
  let refcountOrder = 4;
  let compressionType = 0;
  if (version === 3) {
    if (buf.length < V3_MIN_HEADER_LENGTH || fileSize < V3_MIN_HEADER_LENGTH) throw badImage(file, 'truncated v3 header');
    headerLength = u32(buf, 100);
    if (headerLength < V3_MIN_HEADER_LENGTH || headerLength % 8 !== 0 || headerLength > clusterSize) {
      throw badImage(file, `invalid header_length ${headerLength}`);
    }
    if (headerLength > buf.length || headerLength > fileSize) throw badImage(file, 'truncated header');
    incompatibleFeatures = words(72);
    compatibleFeatures = words(80);
    autoclearFeatures = words(88);
    refcountOrder = u32(buf, 96);
    if (headerLength > 104) compressionType = buf[104];
  }
  const header: Qcow2Header = {
    version,
    backingFileOffset: u64(8, 'backing_file_offset'),
    backingFileSize: u32(buf, 16),
    clusterBits,
    size: u64(24, 'size'),
    cryptMethod: u32(buf, 32),
    l1Size: u32(buf, 36),
    l1TableOffset: u64(40, 'l1_table_offset'),
    refcountTableOffset: u64(48, 'refcount_table_offset'),
    refcountTableClusters: u32(buf, 56),
    nbSnapshots: u32(buf, 60),
    snapshotsOffset: u64(64, 'snapshots_offset'),
    incompatibleFeatures,
    compatibleFeatures,
    autoclearFeatures,
    refcountOrder,
    headerLength,
    compressionType,
    unknownHeaderTail: buf.slice(Math.min(headerLength, 112), headerLength),
    extensions: { unknown: [], featureNames: [] },
  };
  validateFields(header, file, fileSize, forCheck, allowEncrypted);

  const extEnd = header.backingFileOffset > 0 ? Math.min(header.backingFileOffset, clusterSize) : clusterSize;
  header.extensions = parseHeaderExtensions(buf.subarray(0, Math.min(buf.length, clusterSize)), headerLength, extEnd, file, clusterSize);
  checkIncompatibleFeatures(header, file, unnamedDataFileOk);

  if (header.backingFileOffset > 0 && header.backingFileSize > 0) {
    const end = header.backingFileOffset + header.backingFileSize;
    if (end > buf.length) throw badImage(file, 'backing file name lies outside the first cluster');
    header.backingFile = new TextDecoder('utf-8', { fatal: false }).decode(buf.subarray(header.backingFileOffset, end));
    if (header.backingFile.includes('\0')) throw badImage(file, 'backing file name contains a NUL byte');
  }
  return header;
}

function validateFields(h: Qcow2Header, file: string, fileSize: number, forCheck: boolean, allowEncrypted: boolean): void {
  const clusterSize = 2 ** h.clusterBits;
  if (h.refcountOrder > 6) throw badImage(file, `refcount_order ${h.refcountOrder} is above 6`);
  // Without a key an encrypted image is refused here; with one (allowEncrypted) the device unlocks it (crypto/).
  if (h.cryptMethod !== 0 && !(allowEncrypted && h.cryptMethod <= 2)) {
    const kind = h.cryptMethod === 1 ? 'AES' : h.cryptMethod === 2 ? 'LUKS' : `method ${h.cryptMethod}`;
    throw new Qcow2Error('unsupported', `image is encrypted (${kind}); encryption is not supported without a passphrase`, file);
  }
  if (h.size > MAX_VIRTUAL_SIZE) throw badImage(file, `virtual size ${h.size} is too large`);
  if (h.backingFileSize > MAX_BACKING_NAME) throw badImage(file, `backing file name is too long (${h.backingFileSize} bytes)`);
  if (h.backingFileSize > 0 && (h.backingFileOffset === 0 || h.backingFileOffset + h.backingFileSize > clusterSize)) {
    throw badImage(file, 'invalid backing file offset');
  }
  if (!isAligned(h.l1TableOffset, clusterSize)) throw badImage(file, 'L1 table offset is not cluster-aligned');
  if (!isAligned(h.refcountTableOffset, clusterSize)) throw badImage(file, 'refcount table offset is not cluster-aligned');
  // In check mode, as QEMU's, the snapshot table is left to the check (which can repair a too-long one).
  if (h.nbSnapshots > 0 && !isAligned(h.snapshotsOffset, clusterSize) && !forCheck) throw badImage(file, 'snapshot table offset is not cluster-aligned');
  if (h.nbSnapshots > MAX_SNAPSHOTS && !forCheck) throw badImage(file, `too many snapshots (${h.nbSnapshots}); check -r all discards those past 65536`);

  if (h.refcountTableClusters === 0 && !forCheck) throw badImage(file, 'image has no refcount table');
  const reftableBytes = h.refcountTableClusters * clusterSize;
  if (reftableBytes > MAX_REFTABLE_BYTES) throw badImage(file, `refcount table is too large (${reftableBytes} bytes, limit ${MAX_REFTABLE_BYTES})`);
  if ((h.refcountTableOffset === 0 && !forCheck) || h.refcountTableOffset + reftableBytes > fileSize) {
    throw badImage(file, 'refcount table lies beyond the end of the file');
  }

  const l1Bytes = h.l1Size * 8;
  if (l1Bytes > MAX_L1_BYTES) throw badImage(file, `L1 table is too large (${l1Bytes} bytes, limit ${MAX_L1_BYTES})`);
  const l2Entries = clusterSize / (isSet(h.incompatibleFeatures, INCOMPAT_EXTL2) ? 16 : 8);
  const neededL1 = Math.ceil(h.size / (clusterSize * l2Entries));
  if (h.l1Size < neededL1) throw badImage(file, `L1 table is too small for the virtual size (${h.l1Size} < ${neededL1} entries)`);
  if (h.l1Size > 0 && (h.l1TableOffset === 0 || h.l1TableOffset + l1Bytes > fileSize)) {
    throw badImage(file, 'L1 table lies beyond the end of the file');
  }
}

function checkIncompatibleFeatures(h: Qcow2Header, file: string, unnamedDataFileOk: boolean): void {
  const f = h.incompatibleFeatures;
  const unknownLo = f.lo & ~INCOMPAT_KNOWN;
  if (f.hi !== 0 || unknownLo !== 0) {
    const names: string[] = [];
    for (let bit = 0; bit < 64; bit++) {
      const set = bit < 32 ? (f.lo >>> bit) & 1 : (f.hi >>> (bit - 32)) & 1;
      if (!set || (bit < 32 && (INCOMPAT_KNOWN >>> bit) & 1)) continue;
      const named = h.extensions.featureNames.find((n) => n.type === 0 && n.bit === bit);
      names.push(named ? `${named.name} (bit ${bit})` : `bit ${bit}`);
    }
    throw new Qcow2Error('unsupported', `unsupported incompatible features: ${names.join(', ')}`, file);
  }
  if (h.version === 2 && (f.lo | h.compatibleFeatures.lo | h.autoclearFeatures.lo) !== 0) {
    throw badImage(file, 'version 2 image with feature bits set');
  }
  if (f.lo & INCOMPAT_EXTL2 && h.clusterBits < 14) throw badImage(file, 'extended L2 entries need clusters of at least 16 KiB');
  if (h.compressionType > 1) throw new Qcow2Error('unsupported', `unknown compression type ${h.compressionType}`, file);
  if ((h.compressionType !== 0) !== Boolean(f.lo & INCOMPAT_COMPRESSION)) {
    throw badImage(file, 'compression type field and compression-type feature bit disagree');
  }
  if (f.lo & INCOMPAT_DATA_FILE && h.extensions.dataFile === undefined && !unnamedDataFileOk) {
    throw badImage(file, 'image needs an external data file but does not name one');
  }
  if (h.autoclearFeatures.lo & AUTOCLEAR_DATA_FILE_RAW && !(f.lo & INCOMPAT_DATA_FILE)) {
    throw badImage(file, 'data-file-raw is set but the image has no external data file');
  }
}

export function isSet(bits: FeatureBits, mask: number): boolean {
  return (bits.lo & mask) !== 0;
}
