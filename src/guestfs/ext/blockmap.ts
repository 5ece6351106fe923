/**
 * A file's logical blocks → device blocks: the ext4 extent tree, or the ext2/3 direct/indirect block map.
 * Both are guest-controlled trees, so depth, node counts and block numbers are checked, every tree block is
 * visited at most once (a node pointing back at an ancestor or a shared indirect block is an error, not a loop),
 * and the legacy map is walked only as far as the file's size reaches.
 */
import { u16, u32 } from '../bytes';
import { GuestFsError } from '../types';
import { INODE_FLAG_EXTENTS, type Inode } from './inode';

export interface BlockRun {
  logical: number;
  physical: number;
  count: number;
  /** An unwritten (preallocated) extent: reads as zeros. */
  unwritten: boolean;
}

export interface BlockMap {
  runs: BlockRun[];
  /** Device blocks holding the tree itself (extent index/leaf blocks, indirect blocks), for owner(). */
  treeBlocks: number[];
}

export interface BlockSource {
  blockSize: number;
  blocksCount: number;
  readBlock(block: number, what: string): Promise<Uint8Array>;
}

const EXTENT_MAGIC = 0xf30a;
const MAX_EXTENT_DEPTH = 5;
/** Tree blocks per file; 1M blocks of 4 KiB map far more than any real file's tree. */
const MAX_TREE_BLOCKS = 1 << 20;

export async function mapBlocks(src: BlockSource, inode: Inode, what: string): Promise<BlockMap> {
  const map: BlockMap = { runs: [], treeBlocks: [] };
  const lastLogical = Math.ceil(inode.size / src.blockSize);
  if (inode.flags & INODE_FLAG_EXTENTS) await walkExtents(src, inode.iblock, -1, new Set(), map, what);
  else await walkIndirect(src, inode.iblock, lastLogical, new Set(), map, what);
  return map;
}

function checkRange(src: BlockSource, physical: number, count: number, what: string): void {
  if (physical < 1 || physical + count > src.blocksCount) {
    throw new GuestFsError('bad-fs', `${what}: block ${physical} (+${count}) is outside the file system (${src.blocksCount} blocks)`);
  }
}

function pushRun(map: BlockMap, run: BlockRun): void {
  const last = map.runs[map.runs.length - 1];
  if (last && last.unwritten === run.unwritten && last.logical + last.count === run.logical && last.physical + last.count === run.physical)
    last.count += run.count;
  else map.runs.push(run);
}

async function walkExtents(src: BlockSource, node: Uint8Array, expectDepth: number, seen: Set<number>, map: BlockMap, what: string): Promise<void> {
  if (u16(node, 0) !== EXTENT_MAGIC) throw new GuestFsError('bad-fs', `${what}: extent tree node has a bad magic number`);
  const entries = u16(node, 2);
  const depth = u16(node, 6);
  if (depth > MAX_EXTENT_DEPTH) throw new GuestFsError('bad-fs', `${what}: extent tree depth ${depth} is beyond the maximum of ${MAX_EXTENT_DEPTH}`);
  if (expectDepth >= 0 && depth !== expectDepth)
    throw new GuestFsError('bad-fs', `${what}: extent tree node at depth ${depth} where ${expectDepth} was expected`);
  if (12 + entries * 12 > node.length) throw new GuestFsError('bad-fs', `${what}: extent node claims ${entries} entries, more than fit`);
  let prevLogical = -1;
  for (let i = 0; i < entries; i++) {
    const e = 12 + i * 12;
    const logical = u32(node, e);
    if (logical <= prevLogical) throw new GuestFsError('bad-fs', `${what}: extent entries out of order`);
    prevLogical = logical;
    if (depth === 0) {
      let len = u16(node, e + 4);
      const unwritten = len > 32768;
      if (unwritten) len -= 32768;
      const physical = u32(node, e + 8) + u16(node, e + 6) * 0x1_0000_0000;
      if (len === 0) continue;
      checkRange(src, physical, len, what);
      pushRun(map, { logical, physical, count: len, unwritten });
    } else {
      const child = u32(node, e + 4) + u16(node, e + 8) * 0x1_0000_0000;
      checkRange(src, child, 1, what);
      if (seen.has(child)) throw new GuestFsError('bad-fs', `${what}: extent tree block ${child} is referenced twice (a loop)`);
      if (seen.size >= MAX_TREE_BLOCKS) throw new GuestFsError('too-large', `${what}: extent tree has more than ${MAX_TREE_BLOCKS} blocks`);
      seen.add(child);
      map.treeBlocks.push(child);
      await walkExtents(src, await src.readBlock(child, what), depth - 1, seen, map, what);
    }
  }
}

/** i_block[0..11] direct, [12] single, [13] double, [14] triple indirect, up to `lastLogical`. */
async function walkIndirect(src: BlockSource, iblock: Uint8Array, lastLogical: number, seen: Set<number>, map: BlockMap, what: string): Promise<void> {
  const perBlock = src.blockSize / 4;
  let logical = 0;
  const visit = async (ptr: number, level: number): Promise<void> => {
    const span = perBlock ** level;
    if (logical >= lastLogical) return;
    if (ptr === 0) {
      logical += span;
      return;
    }
    if (level === 0) {
      checkRange(src, ptr, 1, what);
      pushRun(map, { logical, physical: ptr, count: 1, unwritten: false });
      logical++;
      return;
    }
    checkRange(src, ptr, 1, what);
    if (seen.has(ptr)) throw new GuestFsError('bad-fs', `${what}: indirect block ${ptr} is referenced twice`);
    seen.add(ptr);
    map.treeBlocks.push(ptr);
    const block = await src.readBlock(ptr, what);
    if (level === 1) {
      // Data pointers: no further reads, so no awaits (a 50 MiB file of 1 KiB blocks has 51,200 of them).
      for (let i = 0; i < perBlock && logical < lastLogical; i++, logical++) {
        const data = u32(block, i * 4);
        if (data === 0) continue;
        checkRange(src, data, 1, what);
        pushRun(map, { logical, physical: data, count: 1, unwritten: false });
      }
      return;
    }
    for (let i = 0; i < perBlock && logical < lastLogical; i++) await visit(u32(block, i * 4), level - 1);
  };
  for (let i = 0; i < 12; i++) await visit(u32(iblock, i * 4), 0);
  for (let level = 1; level <= 3; level++) await visit(u32(iblock, (11 + level) * 4), level);
}
