/**
 * Group descriptors (32-byte, or 64-byte with the 64bit feature; meta_bg placement included), read lazily one
 * descriptor block at a time into a bounded cache, so a file system with a million groups costs nothing up front.
 */
import { readRange, u16, u32 } from '../bytes';
import { GuestFsError, type ReadOnlyDevice } from '../types';
import { groupHasSuper, INCOMPAT_META_BG, type Superblock } from './superblock';

export interface GroupDesc {
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: number;
  /** bg_flags: 1 INODE_UNINIT, 2 BLOCK_UNINIT, 4 ITABLE_ZEROED. */
  flags: number;
}

const MAX_CACHED_DESC_BLOCKS = 256;

export class GroupTable {
  private readonly cache = new Map<number, Uint8Array>();
  readonly perBlock: number;

  constructor(
    private readonly dev: ReadOnlyDevice,
    private readonly sb: Superblock,
  ) {
    this.perBlock = sb.blockSize / sb.descSize;
  }

  /** The block holding descriptor block `n` (ext4_descriptor_loc). */
  descBlockLocation(n: number): number {
    const sb = this.sb;
    if (!(sb.incompat & INCOMPAT_META_BG) || n < sb.firstMetaBg) return sb.firstDataBlock + 1 + n;
    const group = n * this.perBlock;
    return sb.firstDataBlock + group * sb.blocksPerGroup + (groupHasSuper(sb, group) ? 1 : 0);
  }

  /** How many descriptor blocks the table spans. */
  get descBlocks(): number {
    return Math.ceil(this.sb.groupCount / this.perBlock);
  }

  async get(group: number): Promise<GroupDesc> {
    const sb = this.sb;
    if (!(group >= 0 && group < sb.groupCount)) throw new GuestFsError('bad-fs', `ext group ${group} does not exist (${sb.groupCount} groups)`);
    const n = Math.floor(group / this.perBlock);
    let block = this.cache.get(n);
    if (!block) {
      const at = this.descBlockLocation(n);
      if (at >= sb.blocksCount) throw new GuestFsError('bad-fs', `ext group descriptor block ${at} is past the end of the file system`);
      block = await readRange(this.dev, at * sb.blockSize, sb.blockSize, 'ext group descriptors');
      if (this.cache.size >= MAX_CACHED_DESC_BLOCKS) this.cache.clear();
      this.cache.set(n, block);
    }
    const o = (group % this.perBlock) * sb.descSize;
    const wide = sb.descSize >= 64;
    const hi = (at: number): number => (wide ? u32(block!, o + at) * 0x1_0000_0000 : 0);
    const desc = {
      blockBitmap: u32(block, o) + hi(0x20),
      inodeBitmap: u32(block, o + 4) + hi(0x24),
      inodeTable: u32(block, o + 8) + hi(0x28),
      flags: u16(block, o + 0x12),
    };
    const itBlocks = Math.ceil((sb.inodesPerGroup * sb.inodeSize) / sb.blockSize);
    if (desc.inodeTable < 1 || desc.inodeTable + itBlocks > sb.blocksCount) {
      throw new GuestFsError('bad-fs', `ext group ${group}: inode table at block ${desc.inodeTable} is outside the file system`);
    }
    return desc;
  }
}
