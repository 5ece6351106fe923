/**
 * Reads inodes and raw blocks of one ext file system through bounded caches: inode tables are read in 64 KiB
 * chunks (a directory's inodes are usually neighbours), block maps are kept for the last few files.
 */
import { readRange } from '../bytes';
import { GuestFsError, type ReadOnlyDevice } from '../types';
import { mapBlocks, type BlockMap, type BlockSource } from './blockmap';
import { GroupTable } from './groups';
import { parseInode, type Inode } from './inode';
import { RO_COMPAT_HUGE_FILE, type Superblock } from './superblock';

const CHUNK = 64 * 1024;
const MAX_CHUNKS = 64;
const MAX_MAPS = 16;

export class InodeReader implements BlockSource {
  readonly groups: GroupTable;
  private readonly chunks = new Map<number, Uint8Array>();
  private readonly maps = new Map<number, BlockMap>();

  constructor(
    readonly dev: ReadOnlyDevice,
    readonly sb: Superblock,
  ) {
    this.groups = new GroupTable(dev, sb);
  }

  get blockSize(): number {
    return this.sb.blockSize;
  }

  get blocksCount(): number {
    return this.sb.blocksCount;
  }

  readBlock(block: number, what: string): Promise<Uint8Array> {
    if (!(block >= 0 && block < this.sb.blocksCount)) throw new GuestFsError('bad-fs', `${what}: block ${block} is outside the file system`);
    return readRange(this.dev, block * this.sb.blockSize, this.sb.blockSize, what);
  }

  /** Device byte offset of inode `ino`. */
  async inodeOffset(ino: number, what: string): Promise<number> {
    const sb = this.sb;
    if (!(Number.isInteger(ino) && ino >= 1 && ino <= sb.inodesCount))
      throw new GuestFsError('bad-fs', `${what}: inode ${ino} does not exist (${sb.inodesCount} inodes)`);
    const group = Math.floor((ino - 1) / sb.inodesPerGroup);
    const index = (ino - 1) % sb.inodesPerGroup;
    const desc = await this.groups.get(group);
    return desc.inodeTable * sb.blockSize + index * sb.inodeSize;
  }

  async inode(ino: number, what: string): Promise<Inode> {
    const sb = this.sb;
    const at = await this.inodeOffset(ino, what);
    const chunkStart = at - (at % CHUNK);
    let chunk = this.chunks.get(chunkStart);
    if (chunk) {
      this.chunks.delete(chunkStart);
    } else {
      chunk = await readRange(this.dev, chunkStart, Math.min(CHUNK, this.dev.size - chunkStart), `${what}: inode ${ino}`);
      if (this.chunks.size >= MAX_CHUNKS) this.chunks.delete(this.chunks.keys().next().value!);
    }
    this.chunks.set(chunkStart, chunk);
    const off = at - chunkStart;
    if (off + sb.inodeSize > chunk.length) throw new GuestFsError('bad-fs', `${what}: inode ${ino} lies past the end of the device`);
    const hugeUnit = sb.roCompat & RO_COMPAT_HUGE_FILE ? sb.blockSize / 512 : 0;
    return parseInode(ino, chunk.slice(off, off + sb.inodeSize), at, hugeUnit);
  }

  async blockMap(inode: Inode, what: string): Promise<BlockMap> {
    let map = this.maps.get(inode.ino);
    if (map) {
      this.maps.delete(inode.ino);
    } else {
      map = await mapBlocks(this, inode, what);
      if (this.maps.size >= MAX_MAPS) this.maps.delete(this.maps.keys().next().value!);
    }
    this.maps.set(inode.ino, map);
    return map;
  }
}
