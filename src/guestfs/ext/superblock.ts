/**
 * The ext2/3/4 superblock (at byte 1024) and the feature bits this reader acts on, validated before anything is
 * sized from it: block size, group geometry and inode counts all come from the guest.
 */
import { cString, u16, u32, uuidString } from '../bytes';
import { GuestFsError } from '../types';

export const EXT_MAGIC = 0xef53;
export const SUPERBLOCK_OFFSET = 1024;

export const COMPAT_HAS_JOURNAL = 0x4;
export const INCOMPAT_FILETYPE = 0x2;
export const INCOMPAT_RECOVER = 0x4;
export const INCOMPAT_JOURNAL_DEV = 0x8;
export const INCOMPAT_META_BG = 0x10;
export const INCOMPAT_EXTENTS = 0x40;
export const INCOMPAT_64BIT = 0x80;
export const INCOMPAT_FLEX_BG = 0x200;
export const INCOMPAT_INLINE_DATA = 0x8000;
export const INCOMPAT_ENCRYPT = 0x10000;
export const RO_COMPAT_SPARSE_SUPER = 0x1;
export const RO_COMPAT_HUGE_FILE = 0x8;
export const RO_COMPAT_METADATA_CSUM = 0x400;
export const COMPAT_SPARSE_SUPER2 = 0x200;

/** Features that change how blocks are found; anything else in incompat we do not know is refused. */
const KNOWN_INCOMPAT = 0x1 | 0x2 | 0x4 | 0x10 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x1000 | 0x2000 | 0x4000 | 0x8000 | 0x10000 | 0x20000;

export interface Superblock {
  inodesCount: number;
  blocksCount: number;
  firstDataBlock: number;
  blockSize: number;
  blocksPerGroup: number;
  inodesPerGroup: number;
  inodeSize: number;
  groupCount: number;
  descSize: number;
  firstMetaBg: number;
  /** Blocks reserved after the group descriptors for online resize. */
  reservedGdtBlocks: number;
  journalInode: number;
  /** First inode number for ordinary files; those below are reserved (journal, resize, quota, …). */
  firstIno: number;
  state: number;
  compat: number;
  incompat: number;
  roCompat: number;
  backupBgs: [number, number];
  label: string;
  uuid: string;
  type: 'ext2' | 'ext3' | 'ext4';
}

export function isExtSuperblock(sb: Uint8Array): boolean {
  return sb.length >= 1024 && u16(sb, 0x38) === EXT_MAGIC;
}

/** Decodes and validates a superblock; `deviceSize` bounds the block count. */
export function parseSuperblock(b: Uint8Array, deviceSize: number): Superblock {
  if (!isExtSuperblock(b)) throw new GuestFsError('bad-fs', 'no ext2/3/4 superblock (magic 0xEF53 missing at byte 1080)');
  const logBlock = u32(b, 0x18);
  if (logBlock > 6) throw new GuestFsError('bad-fs', `ext block size 2^${10 + logBlock} is beyond the 64 KiB maximum`);
  const blockSize = 1024 << logBlock;
  const rev = u32(b, 0x4c);
  const incompat = rev >= 1 ? u32(b, 0x60) : 0;
  const is64 = (incompat & INCOMPAT_64BIT) !== 0;
  const blocksCount = u32(b, 0x04) + (is64 ? u32(b, 0x150) * 0x1_0000_0000 : 0);
  const firstDataBlock = u32(b, 0x14);
  const blocksPerGroup = u32(b, 0x20);
  const inodesPerGroup = u32(b, 0x28);
  const inodesCount = u32(b, 0x00);
  const inodeSize = rev >= 1 ? u16(b, 0x58) : 128;
  const descSize = is64 ? u16(b, 0xfe) : 32;
  const bad = (why: string): never => {
    throw new GuestFsError('bad-fs', `ext superblock: ${why}`);
  };
  if (incompat & ~KNOWN_INCOMPAT) bad(`unknown incompatible features 0x${(incompat & ~KNOWN_INCOMPAT).toString(16)}`);
  if (incompat & INCOMPAT_JOURNAL_DEV) throw new GuestFsError('unsupported', 'this is an external ext journal device, not a file system');
  if (blocksPerGroup < 8 || blocksPerGroup > 8 * blockSize || blocksPerGroup % 8) bad(`${blocksPerGroup} blocks per group`);
  if (inodesPerGroup < 1 || inodesPerGroup > 8 * blockSize) bad(`${inodesPerGroup} inodes per group`);
  if (inodeSize < 128 || inodeSize > blockSize || inodeSize & (inodeSize - 1)) bad(`inode size ${inodeSize}`);
  if (is64 && (descSize < 32 || descSize > 1024 || descSize & (descSize - 1))) bad(`group descriptor size ${descSize}`);
  if (firstDataBlock >= blocksCount || firstDataBlock > 1) bad(`first data block ${firstDataBlock} of ${blocksCount}`);
  if (blocksCount * blockSize > deviceSize + blockSize * blocksPerGroup) {
    bad(`${blocksCount} blocks of ${blockSize} bytes do not fit the ${deviceSize}-byte device`);
  }
  const groupCount = Math.ceil((blocksCount - firstDataBlock) / blocksPerGroup);
  if (inodesCount !== groupCount * inodesPerGroup) bad(`inode count ${inodesCount} is not ${groupCount} groups x ${inodesPerGroup}`);
  const compat = rev >= 1 ? u32(b, 0x5c) : 0;
  const roCompat = rev >= 1 ? u32(b, 0x64) : 0;
  const journal = (compat & COMPAT_HAS_JOURNAL) !== 0;
  const ext4ish =
    (incompat & (INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_FLEX_BG | INCOMPAT_INLINE_DATA)) !== 0 ||
    (roCompat & (RO_COMPAT_HUGE_FILE | RO_COMPAT_METADATA_CSUM | 0x40)) !== 0;
  return {
    inodesCount,
    blocksCount,
    firstDataBlock,
    blockSize,
    blocksPerGroup,
    inodesPerGroup,
    inodeSize,
    groupCount,
    descSize,
    firstMetaBg: u32(b, 0x104),
    reservedGdtBlocks: u16(b, 0xce),
    journalInode: journal ? u32(b, 0xe0) : 0,
    firstIno: rev >= 1 ? Math.min(Math.max(u32(b, 0x54), 11), inodesCount + 1) : 11,
    state: u16(b, 0x3a),
    compat,
    incompat,
    roCompat,
    backupBgs: [u32(b, 0x24c), u32(b, 0x250)],
    label: cString(b, 0x78, 16),
    uuid: uuidString(b, 0x68),
    type: ext4ish ? 'ext4' : journal ? 'ext3' : 'ext2',
  };
}

/** Whether group `g` holds a superblock backup (and so a group-descriptor copy) at its start. */
export function groupHasSuper(sb: Superblock, g: number): boolean {
  if (g === 0) return true;
  if (sb.compat & COMPAT_SPARSE_SUPER2) return g === sb.backupBgs[0] || g === sb.backupBgs[1];
  if (g <= 1 || !(sb.roCompat & RO_COMPAT_SPARSE_SUPER)) return true;
  if (!(g & 1)) return false;
  return isPower(g, 3) || isPower(g, 5) || isPower(g, 7);
}

function isPower(n: number, base: number): boolean {
  let p = base;
  while (p < n) p *= base;
  return p === n;
}
