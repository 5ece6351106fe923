/**
 * FAT12/16/32 reader: `openFat(dev)` gives a read-only GuestFs. Hand-written because the npm `fatfs` package
 * shows 8.3 names in upper case, cannot stat directories, has no FAT12 and no cluster map (issue #13).
 * Directories are parsed once into a name map and kept in a small LRU, so list is O(entries) and stat O(1)
 * after the parent was read.
 */
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
import { badFs, PathNamingReader, joinPath, Lru, pushDiskExtent, readDev, splitPath } from '../reader-util';
import { parseBpb, type Bpb } from './bpb';
import { FatTable, type Chain } from './fat-table';
import { ATTR_DIR, attributeNames, parseDir, type FatEntry } from './dir';
import { buildFatOwnerIndex, type FatOwnerIndex } from './owner';

/** The FAT spec caps a directory at 65,536 entries (2 MiB); a longer chain is corrupt, not a bigger directory. */
const MAX_DIR_BYTES = 65536 * 32;
/** Path depth bound: deeper paths are refused rather than walked. */
const MAX_DEPTH = 256;

export async function openFat(dev: ReadOnlyDevice): Promise<GuestFs> {
  const boot = await readDev(dev, 0, Math.min(512, dev.size), 'FAT boot sector');
  const bpb = parseBpb(boot, dev.size);
  const fs = new FatFs(dev, bpb, new FatTable(dev, bpb));
  await fs.init();
  return fs;
}

/** A resolved path: the root (entry undefined) or a directory entry. */
export interface FatNode {
  path: string;
  entry?: FatEntry;
  /** Device offset of the 32-byte entry (the node's id, with the root as 0). */
  id: number;
}

interface DirData {
  entries: FatEntry[];
  ids: number[];
  byName: Map<string, number>;
  label?: string;
}

export class FatFs extends PathNamingReader implements GuestFs {
  info!: FsInfo;
  private readonly dirs = new Lru<number, DirData>(64);
  private readonly chains = new Lru<number, Chain>(64);
  private ownerIndex?: Promise<FatOwnerIndex>;

  constructor(
    readonly dev: ReadOnlyDevice,
    readonly bpb: Bpb,
    readonly fat: FatTable,
  ) {
    super();
  }

  async init(): Promise<void> {
    const b = this.bpb;
    if (b.bits === 32) {
      const root = await this.fat.entry(b.rootCluster).catch(() => -1);
      if (b.rootCluster < 2 || b.rootCluster > this.fat.lastCluster || root === 0)
        throw badFs(`FAT32 root directory cluster ${b.rootCluster} is not allocated`);
    }
    const root = await this.dirData(undefined, '/');
    const clean = !b.dirtyBootFlag && (await this.fat.cleanShutdownBit());
    this.info = {
      type: `fat${b.bits}`,
      label: root.label ?? b.label,
      uuid: b.serial,
      size: b.totalBytes,
      blockSize: b.clusterSize,
      clean,
      warnings: [...b.warnings, ...(clean ? [] : ['the volume was not cleanly unmounted (dirty bit set)'])],
    };
  }

  protected async listRaw(path: string): Promise<DirEntry[]> {
    const node = await this.resolve(path);
    if (node.entry && !(node.entry.attr & ATTR_DIR)) throw new GuestFsError('not-dir', `${path}: not a directory`);
    const dir = await this.dirData(node.entry, node.path);
    return dir.entries.map((e, i) => ({
      name: e.name,
      type: e.attr & ATTR_DIR ? 'dir' : 'file',
      id: dir.ids[i],
      size: e.attr & ATTR_DIR ? 0 : e.size,
      mtime: e.mtime,
    }));
  }

  protected async statRaw(path: string): Promise<FileStat> {
    const node = await this.resolve(path);
    const e = node.entry;
    if (!e) return { id: 0, type: 'dir', size: 0, links: 1, attributes: ['directory'] };
    return {
      id: node.id,
      type: e.attr & ATTR_DIR ? 'dir' : 'file',
      size: e.attr & ATTR_DIR ? 0 : e.size,
      mtime: e.mtime,
      atime: e.atime,
      crtime: e.crtime,
      links: 1,
      attributes: attributeNames(e.attr),
    };
  }

  protected async readRaw(path: string, offset: number, length: number): Promise<Uint8Array> {
    const e = await this.fileEntry(path);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new GuestFsError('not-found', `${path}: bad range ${offset}+${length}`);
    }
    const end = Math.min(e.size, offset + length);
    if (end <= offset) return new Uint8Array(0);
    const out = new Uint8Array(end - offset);
    const chain = await this.fileChain(e, path);
    const cs = this.bpb.clusterSize;
    let logical = 0;
    for (let i = 0; i < chain.starts.length && logical < end; i++) {
      const runBytes = chain.lengths[i] * cs;
      const from = Math.max(offset, logical);
      const to = Math.min(end, logical + runBytes);
      if (from < to) {
        const devOff = this.clusterOffset(chain.starts[i]) + (from - logical);
        await this.dev.readAt(out.subarray(from - offset, to - offset), devOff);
      }
      logical += runBytes;
    }
    if (logical < end) throw badFs(`${path}: the cluster chain holds ${logical} bytes, the file claims ${e.size}`);
    return out;
  }

  protected async extentsRaw(path: string): Promise<Extent[]> {
    const node = await this.resolve(path);
    const e = node.entry;
    const out: Extent[] = [];
    if (!e) {
      if (this.bpb.bits !== 32) {
        pushDiskExtent(this.dev, out, 0, this.bpb.rootDirOffset, this.bpb.rootDirBytes);
        return out;
      }
    }
    const isDir = !e || (e.attr & ATTR_DIR) !== 0;
    const chain = isDir ? await this.dirChain(e ? this.firstCluster(e) : this.bpb.rootCluster, node.path) : await this.fileChain(e!, path);
    const cs = this.bpb.clusterSize;
    const size = isDir ? Infinity : e!.size;
    let logical = 0;
    for (let i = 0; i < chain.starts.length && logical < size; i++) {
      const len = Math.min(chain.lengths[i] * cs, size - logical);
      pushDiskExtent(this.dev, out, logical, this.clusterOffset(chain.starts[i]), len);
      logical += len;
    }
    return out;
  }

  /** Boot and reserved sectors, the FATs and (FAT12/16) the root directory: everything before the data area. */
  async metadataRanges(): Promise<DeviceRange[]> {
    return [{ offset: 0, length: Math.min(this.bpb.dataOffset, this.bpb.totalBytes) }];
  }

  async owner(deviceOffset: number, signal?: AbortSignal): Promise<Owner> {
    const b = this.bpb;
    if (!(deviceOffset >= 0) || deviceOffset >= b.totalBytes) return { kind: 'metadata', what: 'outside the file system' };
    const sector = Math.floor(deviceOffset / b.bytesPerSector);
    if (deviceOffset < b.reservedBytes) {
      if (sector === 0) return { kind: 'metadata', what: 'boot sector' };
      if (b.bits === 32 && sector === b.fsInfoSector) return { kind: 'metadata', what: 'FSInfo sector' };
      if (b.bits === 32 && b.backupBootSector > 0 && sector === b.backupBootSector) return { kind: 'metadata', what: 'backup boot sector' };
      return { kind: 'metadata', what: 'reserved sectors' };
    }
    const fatEnd = b.reservedBytes + b.fatCount * b.fatBytes;
    if (deviceOffset < fatEnd) {
      const copy = Math.floor((deviceOffset - b.reservedBytes) / b.fatBytes);
      return { kind: 'metadata', what: copy === 0 ? 'FAT' : `FAT (copy ${copy + 1})` };
    }
    if (deviceOffset < b.dataOffset) return { kind: 'metadata', what: 'root directory' };
    const cluster = Math.floor((deviceOffset - b.dataOffset) / b.clusterSize) + 2;
    if (cluster > this.fat.lastCluster) return { kind: 'metadata', what: 'past the last cluster' };
    const value = await this.fat.entry(cluster);
    if (value === 0) return { kind: 'free' };
    this.ownerIndex ??= buildFatOwnerIndex(this, signal).catch((err) => {
      this.ownerIndex = undefined;
      throw err;
    });
    const hit = (await this.ownerIndex).table.find(cluster);
    if (!hit)
      return {
        kind: 'metadata',
        what: value === (b.bits === 32 ? 0x0ffffff7 : b.bits === 16 ? 0xfff7 : 0xff7) ? 'bad cluster' : 'allocated cluster in no file (lost)',
      };
    const within = (deviceOffset - b.dataOffset) % b.clusterSize;
    return { kind: hit.owner.kind, path: hit.owner.path, logical: hit.logical * b.clusterSize + within };
  }

  // ---- internals shared with the owner index ----

  clusterOffset(cluster: number): number {
    return this.bpb.dataOffset + (cluster - 2) * this.bpb.clusterSize;
  }

  firstCluster(e: FatEntry): number {
    return this.bpb.bits === 32 ? e.firstCluster & 0x0fffffff : e.firstCluster & 0xffff;
  }

  async fileChain(e: FatEntry, path: string): Promise<Chain> {
    const first = this.firstCluster(e);
    const want = Math.ceil(e.size / this.bpb.clusterSize);
    const cached = this.chains.get(first);
    if (cached && cached.clusters >= want) return cached;
    const chain = await this.fat.chain(first, want, path);
    if (first !== 0) this.chains.set(first, chain);
    return chain;
  }

  dirChain(first: number, path: string): Promise<Chain> {
    return this.fat.chain(first, Math.ceil(MAX_DIR_BYTES / this.bpb.clusterSize), path);
  }

  /** The parsed directory of an entry (undefined = the root), cached by its first cluster. */
  async dirData(e: FatEntry | undefined, path: string): Promise<DirData> {
    const fixedRoot = !e && this.bpb.bits !== 32;
    const first = e ? this.firstCluster(e) : fixedRoot ? 0 : this.bpb.rootCluster;
    if (e && first === 0) throw badFs(`${path}: directory has no clusters`);
    const cached = this.dirs.get(first);
    if (cached) return cached;
    let data: Uint8Array;
    const devOffsets: number[] = [];
    if (fixedRoot) {
      data = await readDev(this.dev, this.bpb.rootDirOffset, this.bpb.rootDirBytes, 'root directory');
      devOffsets.push(this.bpb.rootDirOffset);
    } else {
      const chain = await this.dirChain(first, path);
      const cs = this.bpb.clusterSize;
      data = new Uint8Array(chain.clusters * cs);
      let at = 0;
      for (let i = 0; i < chain.starts.length; i++) {
        const len = chain.lengths[i] * cs;
        const devOff = this.clusterOffset(chain.starts[i]);
        await this.dev.readAt(data.subarray(at, at + len), devOff);
        for (let c = 0; c < chain.lengths[i]; c++) devOffsets.push(devOff + c * cs);
        at += len;
      }
    }
    const parsed = parseDir(data);
    const unit = fixedRoot ? Infinity : this.bpb.clusterSize;
    const byName = new Map<string, number>();
    const ids = parsed.entries.map((ent, i) => {
      byName.set(ent.name.toLowerCase(), i);
      if (!byName.has(ent.shortName.toLowerCase())) byName.set(ent.shortName.toLowerCase(), i);
      const byteOff = ent.entryIndex * 32;
      const piece = unit === Infinity ? 0 : Math.floor(byteOff / unit);
      return devOffsets[piece] + (byteOff - (unit === Infinity ? 0 : piece * unit));
    });
    const dir: DirData = { entries: parsed.entries, ids, byName, label: e ? undefined : parsed.label };
    this.dirs.set(first, dir);
    return dir;
  }

  /** Resolves a path, refusing a directory that leads back to one of its ancestors (a loop). */
  async resolve(path: string): Promise<FatNode> {
    const parts = splitPath(path);
    if (parts.length > MAX_DEPTH) throw new GuestFsError('not-found', `${path}: deeper than ${MAX_DEPTH} levels`);
    let node: FatNode = { path: '/', id: 0 };
    const ancestors = [this.bpb.bits === 32 ? this.bpb.rootCluster : 0];
    for (const part of parts) {
      if (node.entry && !(node.entry.attr & ATTR_DIR)) throw new GuestFsError('not-dir', `${path}: ${node.path} is not a directory`);
      const dir = await this.dirData(node.entry, node.path);
      const i = dir.byName.get(part.toLowerCase());
      if (i === undefined) throw new GuestFsError('not-found', `${path}: no such file or directory`);
      const entry = dir.entries[i];
      const childPath = joinPath(node.path, entry.name);
      if (entry.attr & ATTR_DIR) {
        const c = this.firstCluster(entry);
        if (ancestors.includes(c)) throw badFs(`${childPath}: directory loops back to one of its parents (cluster ${c})`);
        ancestors.push(c);
      }
      node = { path: childPath, entry, id: dir.ids[i] };
    }
    return node;
  }

  private async fileEntry(path: string): Promise<FatEntry> {
    const node = await this.resolve(path);
    if (!node.entry || node.entry.attr & ATTR_DIR) throw new GuestFsError('is-dir', `${path}: is a directory`);
    return node.entry;
  }
}
