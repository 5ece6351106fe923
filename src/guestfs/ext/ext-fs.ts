/**
 * A read-only ext2/3/4 file system: path lookup (following symlinks in the middle of a path, at most 40),
 * listings from directory blocks read in large coalesced pieces, file reads and extents from the block map.
 */
import { readRange } from '../bytes';
import { joinPath } from '../path';
import {
  GuestFsError,
  type DeviceRange,
  type DirEntry,
  type Extent,
  type FileStat,
  type FsInfo,
  type GuestFs,
  type Owner,
  type ReadOnlyDevice,
} from '../types';
import { parseDirRegion, type RawDirEntry } from './dir';
import { inlineBytes, inlinePieces } from './inline';
import { fileTypeOfMode, INODE_FLAG_INLINE_DATA, isFastSymlink, ROOT_INODE, type Inode } from './inode';
import { InodeReader } from './inode-reader';
import { OwnerIndex } from './owner';
import { INCOMPAT_FILETYPE, INCOMPAT_RECOVER, parseSuperblock, SUPERBLOCK_OFFSET } from './superblock';

const MAX_SYMLINK_FOLLOWS = 40;
const MAX_PATH_COMPONENTS = 4096;
/** A directory larger than this is refused rather than read (real ones with millions of names stay below). */
const MAX_DIR_BYTES = 512 * 1024 * 1024;
/** One read() returns at most this much; callers read big files in pieces. */
export const MAX_READ_BYTES = 256 * 1024 * 1024;
/** Directory blocks are read in pieces of at most this size. */
const DIR_READ_CHUNK = 4 * 1024 * 1024;
const MAX_CACHED_DIRS = 8;

export async function openExt(dev: ReadOnlyDevice): Promise<GuestFs> {
  const sbBytes = await readRange(dev, SUPERBLOCK_OFFSET, 1024, 'ext superblock');
  const sb = parseSuperblock(sbBytes, dev.size);
  const fs = new ExtFs(new InodeReader(dev, sb));
  const root = await fs.reader.inode(ROOT_INODE, '/');
  if (fileTypeOfMode(root.mode) !== 'dir') throw new GuestFsError('bad-fs', 'ext root inode 2 is not a directory');
  return fs;
}

export class ExtFs implements GuestFs {
  readonly info: FsInfo;
  private readonly dirCache = new Map<number, Map<string, RawDirEntry>>();
  private ownerIndex?: OwnerIndex;

  constructor(readonly reader: InodeReader) {
    const sb = reader.sb;
    const warnings: string[] = [];
    const recover = (sb.incompat & INCOMPAT_RECOVER) !== 0;
    if (recover) warnings.push('needs_recovery is set: the journal was not replayed, so metadata may be stale');
    if (sb.state & 2) warnings.push('the file system is marked as having errors');
    else if (!(sb.state & 1)) warnings.push('the file system was not cleanly unmounted');
    this.info = {
      type: sb.type,
      label: sb.label,
      uuid: sb.uuid,
      size: sb.blocksCount * sb.blockSize,
      blockSize: sb.blockSize,
      clean: !recover && (sb.state & 3) === 1,
      warnings,
    };
  }

  async list(path: string): Promise<DirEntry[]> {
    const inode = await this.resolve(path, true);
    const entries = await this.readDir(inode, path);
    const out: DirEntry[] = new Array(entries.length);
    // Size and time live in the inodes, not the directory: read them here (neighbours in the inode table come
    // from one cached 64 KiB read) so a listing with sizes costs one pass, not a path lookup per entry.
    for (let i = 0; i < entries.length; i++) {
      const e = entries[i];
      const what = joinPath(path, e.name);
      // An entry whose type the directory records still lists when its inode number is bad (as before sizes).
      const child = e.type ? await this.reader.summary(e.ino, what).catch(badInodeAsUndefined) : await this.reader.summary(e.ino, what);
      out[i] = { name: e.name, id: e.ino, type: e.type ?? fileTypeOfMode(child!.mode), size: child?.size, mtime: child?.mtime };
    }
    return out;
  }

  async stat(path: string): Promise<FileStat> {
    const inode = await this.resolve(path, false);
    const type = fileTypeOfMode(inode.mode);
    const st: FileStat = {
      id: inode.ino,
      type,
      size: inode.size,
      mtime: inode.mtime,
      atime: inode.atime,
      ctime: inode.ctime,
      mode: inode.mode,
      uid: inode.uid,
      gid: inode.gid,
      links: inode.links,
    };
    if (inode.crtime) st.crtime = inode.crtime;
    if (type === 'symlink') st.target = await this.symlinkTarget(inode, path);
    return st;
  }

  async read(path: string, offset: number, length: number): Promise<Uint8Array> {
    const inode = await this.resolve(path, true);
    if (fileTypeOfMode(inode.mode) === 'dir') throw new GuestFsError('is-dir', `${path}: is a directory`);
    return this.readInode(inode, offset, length, path);
  }

  async extents(path: string): Promise<Extent[]> {
    const inode = await this.resolve(path, true);
    return this.inodeExtents(inode, path);
  }

  async metadataRanges(signal?: AbortSignal): Promise<DeviceRange[]> {
    const bs = this.reader.sb.blockSize;
    // A separate index: this one walks no directory (fast), the owner index walks them all.
    const runs = await new OwnerIndex(this).metadataRuns(signal);
    return [{ offset: 0, length: Math.max(1024, bs) }, ...runs.map((r) => ({ offset: r.start * bs, length: r.count * bs }))];
  }

  async owner(deviceOffset: number, signal?: AbortSignal): Promise<Owner> {
    this.ownerIndex ??= new OwnerIndex(this);
    return this.ownerIndex.lookup(deviceOffset, signal);
  }

  // ---------------------------------------------------------------------------------------------------------

  /** Logical byte ranges → device byte ranges (the caller adds the device's place on the disk). */
  async inodeExtents(inode: Inode, path: string): Promise<Extent[]> {
    const dev = this.reader.dev;
    const toDisk = (o: number): number => (dev.toDiskOffset ? dev.toDiskOffset(o) : dev.diskOffset + o);
    if (inode.flags & INODE_FLAG_INLINE_DATA) {
      const out: Extent[] = [];
      let logical = 0;
      for (const p of inlinePieces(inode, path)) {
        const length = Math.min(p.bytes.length, inode.size - logical);
        if (length <= 0) break;
        out.push({ logical, diskOffset: toDisk(inode.deviceOffset + p.inodeOffset), length });
        logical += length;
      }
      return out;
    }
    if (isFastSymlink(inode, this.reader.blockSize)) return [];
    const bs = this.reader.blockSize;
    const map = await this.reader.blockMap(inode, path);
    const out: Extent[] = [];
    for (const r of map.runs) {
      if (r.unwritten) continue;
      const logical = r.logical * bs;
      const length = Math.min(r.count * bs, inode.size - logical);
      if (length <= 0) continue;
      // An LV made of several segments: split where the disk mapping jumps.
      this.pushDiskExtents(out, logical, r.physical * bs, length);
    }
    return out;
  }

  private pushDiskExtents(out: Extent[], logical: number, devOffset: number, length: number): void {
    const dev = this.reader.dev;
    if (!dev.toDiskOffset) {
      out.push({ logical, diskOffset: dev.diskOffset + devOffset, length });
      return;
    }
    let done = 0;
    while (done < length) {
      const start = dev.toDiskOffset(devOffset + done);
      let n = this.reader.blockSize;
      while (done + n < length && dev.toDiskOffset(devOffset + done + n) === start + n) n += this.reader.blockSize;
      n = Math.min(n, length - done);
      out.push({ logical: logical + done, diskOffset: start, length: n });
      done += n;
    }
  }

  async readInode(inode: Inode, offset: number, length: number, path: string): Promise<Uint8Array> {
    if (!(Number.isSafeInteger(offset) && offset >= 0 && Number.isSafeInteger(length) && length >= 0)) {
      throw new GuestFsError('bad-fs', `${path}: bad read range ${offset} +${length}`);
    }
    const end = Math.min(inode.size, offset + length);
    if (end <= offset) return new Uint8Array(0);
    if (end - offset > MAX_READ_BYTES) throw new GuestFsError('too-large', `${path}: a read of ${end - offset} bytes is over the ${MAX_READ_BYTES}-byte limit`);
    if (inode.flags & INODE_FLAG_INLINE_DATA) return inlineBytes(inode, path).slice(offset, end);
    if (isFastSymlink(inode, this.reader.blockSize)) return inode.iblock.slice(offset, end);
    const out = new Uint8Array(end - offset);
    const bs = this.reader.blockSize;
    const { runs } = await this.reader.blockMap(inode, path);
    // First run that ends after `offset` (runs are in logical order).
    let lo = 0;
    let hi = runs.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((runs[mid].logical + runs[mid].count) * bs <= offset) lo = mid + 1;
      else hi = mid;
    }
    const dev = this.reader.dev;
    for (let i = lo; i < runs.length; i++) {
      const r = runs[i];
      const runStart = r.logical * bs;
      if (runStart >= end) break;
      if (r.unwritten) continue;
      const from = Math.max(offset, runStart);
      const to = Math.min(end, runStart + r.count * bs);
      const devAt = r.physical * bs + (from - runStart);
      if (devAt + (to - from) > dev.size) throw new GuestFsError('bad-fs', `${path}: data block lies past the end of the device`);
      await dev.readAt(out.subarray(from - offset, to - offset), devAt);
    }
    return out;
  }

  async symlinkTarget(inode: Inode, path: string): Promise<string> {
    if (inode.size > 4096) throw new GuestFsError('bad-fs', `${path}: symlink target of ${inode.size} bytes`);
    return new TextDecoder().decode(await this.readInode(inode, 0, inode.size, path));
  }

  /** The live entries of a directory inode, in on-disk order. */
  async readDir(inode: Inode, path: string): Promise<RawDirEntry[]> {
    if (fileTypeOfMode(inode.mode) !== 'dir') throw new GuestFsError('not-dir', `${path}: not a directory`);
    const sb = this.reader.sb;
    const hasType = (sb.incompat & INCOMPAT_FILETYPE) !== 0;
    const out: RawDirEntry[] = [];
    if (inode.flags & INODE_FLAG_INLINE_DATA) {
      // i_block: the parent's inode number, then entries; the rest of the entries are in system.data.
      for (const [i, p] of inlinePieces(inode, path).entries()) parseDirRegion(p.bytes, i === 0 ? 4 : 0, p.bytes.length, sb.blockSize, hasType, out, path);
      return out;
    }
    if (inode.size > MAX_DIR_BYTES) throw new GuestFsError('too-large', `${path}: directory of ${inode.size} bytes is over the ${MAX_DIR_BYTES}-byte limit`);
    const bs = sb.blockSize;
    const { runs } = await this.reader.blockMap(inode, path);
    const limitBlocks = Math.ceil(inode.size / bs);
    for (const r of runs) {
      if (r.unwritten) continue;
      const count = Math.min(r.count, limitBlocks - r.logical);
      for (let done = 0; done < count;) {
        const n = Math.min(count - done, Math.max(1, Math.floor(DIR_READ_CHUNK / bs)));
        const buf = await readRange(this.reader.dev, (r.physical + done) * bs, n * bs, `${path}: directory block`);
        for (let b = 0; b < n; b++) parseDirRegion(buf, b * bs, (b + 1) * bs, bs, hasType, out, path);
        done += n;
      }
    }
    return out;
  }

  private async lookup(dir: Inode, name: string, path: string): Promise<number | undefined> {
    let names = this.dirCache.get(dir.ino);
    if (names) this.dirCache.delete(dir.ino);
    else {
      names = new Map();
      for (const e of await this.readDir(dir, path)) if (!names.has(e.name)) names.set(e.name, e);
      if (this.dirCache.size >= MAX_CACHED_DIRS) this.dirCache.delete(this.dirCache.keys().next().value!);
    }
    this.dirCache.set(dir.ino, names);
    return names.get(name)?.ino;
  }

  /** The inode a path names; symlinks are followed in the middle, and at the end when `followLast`. */
  async resolve(path: string, followLast: boolean): Promise<Inode> {
    if (!path.startsWith('/')) throw new GuestFsError('not-found', `${path}: not an absolute path`);
    const todo = path.split('/').filter((c) => c && c !== '.');
    if (todo.length > MAX_PATH_COMPONENTS) throw new GuestFsError('bad-fs', `${path}: too many path components`);
    const stack: Inode[] = [await this.reader.inode(ROOT_INODE, path)];
    let follows = 0;
    while (todo.length) {
      const name = todo.shift()!;
      const cur = stack[stack.length - 1];
      if (name === '..') {
        if (stack.length > 1) stack.pop();
        continue;
      }
      if (fileTypeOfMode(cur.mode) !== 'dir') throw new GuestFsError('not-dir', `${path}: a component before '${name}' is not a directory`);
      const ino = await this.lookup(cur, name, path);
      if (ino === undefined) throw new GuestFsError('not-found', `${path}: no such file or directory`);
      const next = await this.reader.inode(ino, path);
      if (fileTypeOfMode(next.mode) === 'symlink' && (todo.length > 0 || followLast)) {
        if (++follows > MAX_SYMLINK_FOLLOWS) throw new GuestFsError('bad-fs', `${path}: too many levels of symbolic links`);
        const target = await this.symlinkTarget(next, path);
        const parts = target.split('/').filter((c) => c && c !== '.');
        if (todo.length + parts.length > MAX_PATH_COMPONENTS) throw new GuestFsError('bad-fs', `${path}: too many path components`);
        todo.unshift(...parts);
        if (target.startsWith('/')) stack.length = 1;
        continue;
      }
      stack.push(next);
    }
    return stack[stack.length - 1];
  }
}

function badInodeAsUndefined(err: unknown): undefined {
  if (err instanceof GuestFsError) return undefined;
  throw err;
}
