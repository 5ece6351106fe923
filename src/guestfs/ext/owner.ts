/**
 * What a block of an ext file system is: built once, lazily, by walking the directory tree from the root (each
 * inode once, so directory cycles and hard links end the walk) plus each group's metadata and the journal. The
 * index holds one row per extent and per group, i.e. it grows with the metadata, never with the disk's size.
 */
import { GuestFsError, type Owner } from '../types';
import { joinPath } from '../path';
import type { RawDirEntry } from './dir';
import type { InodeReader } from './inode-reader';
import { fileTypeOfMode, isFastSymlink, INODE_FLAG_INLINE_DATA, ROOT_INODE, type Inode } from './inode';
import { groupHasSuper, INCOMPAT_META_BG } from './superblock';

/** Rows: [startBlock, count, what, logicalBlock] where `what` indexes `names` (>= 0) or `metaNames`. */
interface Row {
  start: number;
  count: number;
  name: number;
  logical: number;
}

const MAX_FILES = 10_000_000;
const RESERVED: Record<number, string> = {
  1: 'bad blocks',
  3: 'user quota',
  4: 'group quota',
  5: 'boot loader',
  6: 'undelete directory',
  7: 'resize inode',
  9: 'exclude bitmap',
  10: 'project quota',
};
const BITMAP_CACHE = 16;

/** What the index needs from the file system (an interface, so owner.ts and ext-fs.ts do not import each other). */
export interface OwnerSource {
  readonly reader: InodeReader;
  readDir(inode: Inode, path: string): Promise<RawDirEntry[]>;
}

function skipGuestError(err: unknown): undefined {
  if (err instanceof GuestFsError) return undefined;
  throw err;
}

export class OwnerIndex {
  private building?: Promise<void>;
  private starts = new Float64Array(0);
  /** maxEnd[i]: the largest end (start + count) of rows 0..i. */
  private maxEnd = new Float64Array(0);
  private rows: Row[] = [];
  /** name → [path, kind]; kind: 'file' | 'dir' | 'metadata'. */
  private readonly names: { text: string; kind: 'file' | 'dir' | 'metadata' }[] = [];
  private readonly bitmaps = new Map<number, Uint8Array>();

  constructor(private readonly fs: OwnerSource) {}

  async lookup(deviceOffset: number, signal?: AbortSignal): Promise<Owner> {
    const sb = this.fs.reader.sb;
    const block = Math.floor(deviceOffset / sb.blockSize);
    if (deviceOffset < 0 || block >= sb.blocksCount) return { kind: 'metadata', what: 'beyond the end of the ext file system' };
    if (deviceOffset < 1024 && sb.blockSize > 1024) return { kind: 'metadata', what: 'boot sector (before the ext superblock)' };
    if (sb.blockSize === 1024 && block === 0) return { kind: 'metadata', what: 'boot sector (before the ext superblock)' };
    this.building ??= this.build(signal).catch((err) => {
      this.building = undefined;
      throw err;
    });
    await this.building;
    const row = this.find(block);
    if (row) {
      const n = this.names[row.name];
      if (n.kind === 'metadata') return { kind: 'metadata', what: n.text };
      const logical = (row.logical + (block - row.start)) * sb.blockSize + (deviceOffset % sb.blockSize);
      return { kind: n.kind, path: n.text, logical };
    }
    return (await this.isAllocated(block)) ? { kind: 'metadata', what: 'allocated block not reached from the root directory' } : { kind: 'free' };
  }

  /** The group metadata and the reserved inodes' blocks (journal, resize inode, …), without walking the tree. */
  async metadataRuns(signal?: AbortSignal): Promise<{ start: number; count: number }[]> {
    const rows: Row[] = [];
    await this.addGroupMetadata(rows, signal);
    await this.addReservedInodes(rows, signal);
    return rows;
  }

  private find(block: number): Row | undefined {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid] <= block) lo = mid + 1;
      else hi = mid;
    }
    // Rows may overlap (the resize inode's blocks are also reserved GDT blocks): step back while an earlier row
    // could still reach this block, which the running maximum of row ends tells.
    for (let i = lo - 1; i >= 0 && this.maxEnd[i] > block; i--) {
      const r = this.rows[i];
      if (block < r.start + r.count) return r;
    }
    return undefined;
  }

  private name(text: string, kind: 'file' | 'dir' | 'metadata'): number {
    this.names.push({ text, kind });
    return this.names.length - 1;
  }

  private async build(signal?: AbortSignal): Promise<void> {
    const rows: Row[] = [];
    await this.addGroupMetadata(rows, signal);
    await this.addReservedInodes(rows, signal);
    const reader = this.fs.reader;
    // Breadth-first from the root; each inode once.
    const seen = new Set<number>([ROOT_INODE]);
    const queue: { ino: number; path: string }[] = [{ ino: ROOT_INODE, path: '/' }];
    for (let qi = 0; qi < queue.length; qi++) {
      signal?.throwIfAborted();
      const { ino, path } = queue[qi];
      // A damaged entry or directory is left out of the index; the rest of the tree still gets indexed.
      const inode = await reader.inode(ino, path).catch(skipGuestError);
      if (!inode) continue;
      const type = fileTypeOfMode(inode.mode);
      await this.addInodeTolerant(rows, inode, this.name(path, type === 'dir' ? 'dir' : 'file'), path);
      if (type !== 'dir') continue;
      for (const e of (await this.fs.readDir(inode, path).catch(skipGuestError)) ?? []) {
        if (seen.has(e.ino) || seen.size >= MAX_FILES) continue;
        seen.add(e.ino);
        queue.push({ ino: e.ino, path: joinPath(path, e.name) });
      }
      queue[qi] = undefined as never; // let finished paths go
    }
    rows.sort((a, b) => a.start - b.start);
    this.rows = rows;
    this.starts = Float64Array.from(rows, (r) => r.start);
    this.maxEnd = new Float64Array(rows.length);
    for (let i = 0, m = 0; i < rows.length; i++) this.maxEnd[i] = m = Math.max(m, rows[i].start + rows[i].count);
  }

  /** Reserved inodes (journal, resize inode, quota files, …) own blocks that no directory reaches. */
  private async addReservedInodes(rows: Row[], signal?: AbortSignal): Promise<void> {
    const reader = this.fs.reader;
    const sb = reader.sb;
    for (let ino = 1; ino < Math.min(sb.firstIno, 64); ino++) {
      if (ino === ROOT_INODE) continue;
      signal?.throwIfAborted();
      const what = ino === sb.journalInode ? 'journal' : `${RESERVED[ino] ?? 'reserved inode'} (inode ${ino})`;
      const inode = await reader.inode(ino, what);
      if (inode.mode === 0 && inode.links === 0 && inode.size === 0 && inode.iblock.every((b) => b === 0)) continue;
      await this.addInodeTolerant(rows, inode, this.name(what, 'metadata'), what, true);
    }
  }

  /** One file with a broken block map leaves its blocks unindexed instead of failing the whole index. */
  private async addInodeTolerant(rows: Row[], inode: Inode, name: number, path: string, reserved = false): Promise<void> {
    await this.addInode(rows, inode, name, path, reserved).catch(skipGuestError);
  }

  private async addInode(rows: Row[], inode: Inode, name: number, path: string, reserved = false): Promise<void> {
    const reader = this.fs.reader;
    if (inode.fileAcl > 0 && inode.fileAcl < reader.blocksCount)
      rows.push({ start: inode.fileAcl, count: 1, name: this.name(`extended attributes of ${path}`, 'metadata'), logical: 0 });
    if (inode.flags & INODE_FLAG_INLINE_DATA || isFastSymlink(inode, reader.blockSize)) return;
    if (!reserved && fileTypeOfMode(inode.mode) === 'other') return;
    const map = await this.fs.reader.blockMap(inode, path);
    for (const r of map.runs) rows.push({ start: r.physical, count: r.count, name, logical: r.logical });
    if (map.treeBlocks.length) {
      const tree = this.name(`block map of ${path}`, 'metadata');
      for (const b of map.treeBlocks) rows.push({ start: b, count: 1, name: tree, logical: 0 });
    }
  }

  private async addGroupMetadata(rows: Row[], signal?: AbortSignal): Promise<void> {
    const reader = this.fs.reader;
    const sb = reader.sb;
    const groups = reader.groups;
    const itBlocks = Math.ceil((sb.inodesPerGroup * sb.inodeSize) / sb.blockSize);
    const reservedGdt = sb.reservedGdtBlocks;
    const superName = this.name('superblock and group descriptors', 'metadata');
    const bbName = this.name('block bitmap', 'metadata');
    const ibName = this.name('inode bitmap', 'metadata');
    // With meta_bg only the first firstMetaBg descriptor blocks follow each superblock; the others lie at the start
    // of the first, second and last group of their meta group (ext4_descriptor_loc, ext2fs_reserve_super_and_bgd).
    const metaBg = (sb.incompat & INCOMPAT_META_BG) !== 0;
    const oldDescBlocks = metaBg ? Math.min(sb.firstMetaBg, groups.descBlocks) : groups.descBlocks;
    const groupStart = (g: number): number => sb.firstDataBlock + g * sb.blocksPerGroup;
    for (let n = oldDescBlocks; n < groups.descBlocks; n++) {
      for (const g of [n * groups.perBlock, n * groups.perBlock + 1, (n + 1) * groups.perBlock - 1]) {
        if (g < sb.groupCount) rows.push({ start: groupStart(g) + (groupHasSuper(sb, g) ? 1 : 0), count: 1, name: superName, logical: 0 });
      }
    }
    for (let g = 0; g < sb.groupCount; g++) {
      if (!(g & 1023)) signal?.throwIfAborted();
      if (groupHasSuper(sb, g))
        rows.push({ start: g === 0 ? sb.firstDataBlock : groupStart(g), count: 1 + oldDescBlocks + reservedGdt, name: superName, logical: 0 });
      const d = await groups.get(g);
      rows.push({ start: d.blockBitmap, count: 1, name: bbName, logical: 0 });
      rows.push({ start: d.inodeBitmap, count: 1, name: ibName, logical: 0 });
      rows.push({ start: d.inodeTable, count: itBlocks, name: this.name(`inode table, group ${g}`, 'metadata'), logical: 0 });
    }
  }

  private async isAllocated(block: number): Promise<boolean> {
    const reader = this.fs.reader;
    const sb = reader.sb;
    const g = Math.floor((block - sb.firstDataBlock) / sb.blocksPerGroup);
    const d = await reader.groups.get(g);
    if (d.flags & 2) return false; // BLOCK_UNINIT: the bitmap was never written; only metadata (indexed) is in use
    let bitmap = this.bitmaps.get(g);
    if (!bitmap) {
      bitmap = await reader.readBlock(d.blockBitmap, `block bitmap of group ${g}`);
      if (this.bitmaps.size >= BITMAP_CACHE) this.bitmaps.delete(this.bitmaps.keys().next().value!);
      this.bitmaps.set(g, bitmap);
    }
    const bit = block - sb.firstDataBlock - g * sb.blocksPerGroup;
    return (bitmap[bit >> 3] & (1 << (bit & 7))) !== 0;
  }
}
