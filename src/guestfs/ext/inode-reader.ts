/**
 * Reads inodes and raw blocks of one ext file system through bounded caches: inode tables are read in 64 KiB
 * chunks (a directory's inodes are usually neighbours), the last 1,024 decoded inodes are kept (every path lookup
 * passes the root and its parents again), block maps are kept for the last few files.
 */
import { readRange } from '../bytes';
import { GuestFsError, type ReadOnlyDevice } from '../types';
import { mapBlocks, type BlockMap, type BlockSource } from './blockmap';
import { GroupTable } from './groups';
import { parseInode, parseInodeSummary, type Inode, type InodeSummary } from './inode';
import { RO_COMPAT_HUGE_FILE, type Superblock } from './superblock';

const CHUNK = 64 * 1024;
const MAX_CHUNKS = 64;
const MAX_MAPS = 16;
const MAX_PARSED = 1024;

export class InodeReader implements BlockSource {
  readonly groups: GroupTable;
  private readonly chunks = new Map<number, Uint8Array>();
  private readonly maps = new Map<number, BlockMap>();
  private readonly parsed = new Map<number, Inode>();
  private lastGroup = -1;
  private lastTable = 0;

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
    // A directory's inodes mostly share a group: skip the descriptor lookup for the last group asked.
    if (group !== this.lastGroup) {
      this.lastTable = (await this.groups.get(group)).inodeTable;
      this.lastGroup = group;
    }
    return this.lastTable * sb.blockSize + index * sb.inodeSize;
  }

  /** The decoded inode; callers must not change it (it is shared through the cache). */
  async inode(ino: number, what: string): Promise<Inode> {
    const hit = this.parsed.get(ino);
    if (hit) {
      this.parsed.delete(ino);
      this.parsed.set(ino, hit);
      return hit;
    }
    const inode = await this.decode(ino, what);
    if (this.parsed.size >= MAX_PARSED) this.parsed.delete(this.parsed.keys().next().value!);
    this.parsed.set(ino, inode);
    return inode;
  }

  /**
   * Mode, size and mtime of an inode, without decoding (and copying) the rest: what a listing needs per entry.
   * Uses the decoded inode when it is cached.
   */
  async summary(ino: number, what: string): Promise<InodeSummary> {
    const hit = this.parsed.get(ino);
    if (hit) return hit;
    const { chunk, off } = await this.locate(ino, what);
    return parseInodeSummary(chunk, off, this.sb.inodeSize);
  }

  private async decode(ino: number, what: string): Promise<Inode> {
    const sb = this.sb;
    const { chunk, off, at } = await this.locate(ino, what);
    const hugeUnit = sb.roCompat & RO_COMPAT_HUGE_FILE ? sb.blockSize / 512 : 0;
    return parseInode(ino, chunk.slice(off, off + sb.inodeSize), at, hugeUnit);
  }

  /** The cached inode-table chunk holding inode `ino`, and where in it the inode starts. */
  private async locate(ino: number, what: string): Promise<{ chunk: Uint8Array; off: number; at: number }> {
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
    if (off + this.sb.inodeSize > chunk.length) throw new GuestFsError('bad-fs', `${what}: inode ${ino} lies past the end of the device`);
    return { chunk, off, at };
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
