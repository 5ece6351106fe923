/** One ext inode decoded: mode, owner, size, times (with the extra-precision epoch bits), flags and i_block. */
import { i32, u16, u32 } from '../bytes';
import type { FileType } from '../types';

export const INODE_FLAG_INDEX = 0x1000;
export const INODE_FLAG_HUGE_FILE = 0x40000;
export const INODE_FLAG_EXTENTS = 0x80000;
export const INODE_FLAG_EA_INODE = 0x200000;
export const INODE_FLAG_INLINE_DATA = 0x10000000;
export const ROOT_INODE = 2;

export interface Inode {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  links: number;
  /** i_blocks in 512-byte units (or in blocks with HUGE_FILE). */
  blocks512: number;
  flags: number;
  fileAcl: number;
  atime: Date;
  mtime: Date;
  ctime: Date;
  crtime?: Date;
  /** The 60 bytes of i_block (extent root, block map, inline data or a fast symlink). */
  iblock: Uint8Array;
  /** The whole on-disk inode (in-inode extended attributes follow the fixed part). */
  raw: Uint8Array;
  /** Where the inode lies on the device, in bytes. */
  deviceOffset: number;
}

export function fileTypeOfMode(mode: number): FileType {
  switch (mode & 0xf000) {
    case 0x8000:
      return 'file';
    case 0x4000:
      return 'dir';
    case 0xa000:
      return 'symlink';
    default:
      return 'other';
  }
}

/** What a directory listing shows of an inode. */
export interface InodeSummary {
  mode: number;
  size: number;
  mtime: Date;
}

/** The listing fields of the inode at `buf[at, at + inodeSize)`, read in place (no copy of the inode). */
export function parseInodeSummary(buf: Uint8Array, at: number, inodeSize: number): InodeSummary {
  const extraSize = inodeSize > 128 ? u16(buf, at + 0x80) : 0;
  const hasExtra = extraSize >= 4 && 128 + extraSize >= 0x8c;
  return {
    mode: u16(buf, at),
    size: u32(buf, at + 0x04) + u32(buf, at + 0x6c) * 0x1_0000_0000,
    mtime: time(buf, at + 0x10, at + 0x88, hasExtra),
  };
}

function time(raw: Uint8Array, at: number, extraAt: number, hasExtra: boolean): Date {
  let seconds = i32(raw, at);
  let ms = 0;
  if (hasExtra) {
    const extra = u32(raw, extraAt);
    seconds += (extra & 3) * 0x1_0000_0000;
    ms = Math.floor((extra >>> 2) / 1e6);
  }
  return new Date(seconds * 1000 + ms);
}

/** `hugeUnit`: 512-byte units per block when the huge_file feature is on (i_blocks then counts blocks), else 0. */
export function parseInode(ino: number, raw: Uint8Array, deviceOffset: number, hugeUnit: number): Inode {
  const extraSize = raw.length > 128 ? u16(raw, 0x80) : 0;
  const has = (end: number): boolean => extraSize >= 4 && 128 + extraSize >= end;
  const flags = u32(raw, 0x20);
  let blocks512 = u32(raw, 0x1c) + u16(raw, 0x74) * 0x1_0000_0000;
  if (hugeUnit && flags & INODE_FLAG_HUGE_FILE) blocks512 *= hugeUnit;
  return {
    ino,
    mode: u16(raw, 0x00),
    uid: u16(raw, 0x02) + u16(raw, 0x78) * 0x10000,
    gid: u16(raw, 0x18) + u16(raw, 0x7a) * 0x10000,
    size: u32(raw, 0x04) + u32(raw, 0x6c) * 0x1_0000_0000,
    links: u16(raw, 0x1a),
    blocks512,
    flags,
    fileAcl: u32(raw, 0x68) + u16(raw, 0x76) * 0x1_0000_0000,
    atime: time(raw, 0x08, 0x8c, has(0x90)),
    ctime: time(raw, 0x0c, 0x84, has(0x88)),
    mtime: time(raw, 0x10, 0x88, has(0x8c)),
    crtime: has(0x98) ? time(raw, 0x90, 0x94, true) : undefined,
    iblock: raw.subarray(0x28, 0x28 + 60),
    raw,
    deviceOffset,
  };
}

/**
 * A symlink whose target lives in i_block (ext4_inode_is_fast_symlink): no data blocks besides an xattr block, and
 * not inline data.
 */
export function isFastSymlink(inode: Inode, blockSize: number): boolean {
  if (fileTypeOfMode(inode.mode) !== 'symlink' || inode.flags & INODE_FLAG_INLINE_DATA) return false;
  if (inode.flags & INODE_FLAG_EA_INODE) return inode.size > 0 && inode.size < 60;
  const eaBlocks = inode.fileAcl ? blockSize >> 9 : 0;
  return inode.blocks512 - eaBlocks === 0 && inode.size < 60;
}
