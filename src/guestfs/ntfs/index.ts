/**
 * NTFS reader: `openNtfs(dev)` gives a read-only GuestFs. Hand-written: no npm NTFS reader exists (issue #13).
 * Directories come from their $I30 index (names and sizes as the index records them, Win32 names preferred: DOS
 * 8.3 aliases are left out, so each hard link shows once per name); stat() reads the file's own record.
 * Alternate data streams are listed in stat().streams and read as `path:stream`.
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
import { badFs, PathNamingReader, le16, le32, Lru, pushDiskExtent, readDev, splitPath, utf16 } from '../reader-util';
import { parseNtfsBoot } from './boot';
import { Mft, type NtfsFile } from './mft';
import { AT, ntfsTime, parseFileName, type Attr } from './record';
import { readDirIndex, type IndexEntry } from './dir-index';
import { buildNtfsOwnerIndex, ntfsOwner, type NtfsOwnerIndex } from './owner';

const ROOT = 5;
const FIRST_USER_RECORD = 16;
const MAX_DEPTH = 256;
const NAMESPACE_DOS = 2;
const FILE_ATTR_DIRECTORY = 0x10000000;
/** An Interix symlink: 8-byte magic + a UTF-16 path of at most 4,096 characters. */
const MAX_INTERIX_BYTES = 8 + 2 * 4096;

export async function openNtfs(dev: ReadOnlyDevice): Promise<GuestFs> {
  const boot = parseNtfsBoot(await readDev(dev, 0, Math.min(512, dev.size), 'NTFS boot sector'), dev.size);
  const mft = new Mft(dev, boot);
  await mft.init();
  const fs = new NtfsFs(dev, mft);
  await fs.init();
  return fs;
}

interface DirData {
  entries: IndexEntry[];
  /** Lower-cased name → entry index, built on the first lookup (a listing does not need it). */
  byName?: Map<string, number>;
}

interface Resolved {
  path: string;
  number: number;
  file: NtfsFile;
  stream: string;
}

const ATTR_NAMES: [number, string][] = [
  [0x1, 'readonly'],
  [0x2, 'hidden'],
  [0x4, 'system'],
  [0x20, 'archive'],
  [0x100, 'temporary'],
  [0x200, 'sparse'],
  [0x400, 'reparse-point'],
  [0x800, 'compressed'],
  [0x1000, 'offline'],
  [0x2000, 'not-indexed'],
  [0x4000, 'encrypted'],
];

export class NtfsFs extends PathNamingReader implements GuestFs {
  info!: FsInfo;
  private readonly dirs = new Lru<number, DirData>(64);
  private ownerIndex?: Promise<NtfsOwnerIndex>;

  constructor(
    readonly dev: ReadOnlyDevice,
    readonly mft: Mft,
  ) {
    super();
  }

  async init(): Promise<void> {
    const vol = await this.mft.file(3);
    const nameAttr = vol.attrs.find((a) => a.type === AT.VOLUME_NAME);
    const infoAttr = vol.attrs.find((a) => a.type === AT.VOLUME_INFORMATION);
    const label = nameAttr?.value ? utf16(nameAttr.value, 0, nameAttr.value.length >> 1) : '';
    const flags = infoAttr?.value && infoAttr.value.length >= 12 ? le16(infoAttr.value, 10) : 0;
    const clean = (flags & 0x0001) === 0;
    await this.dirData(ROOT, '/');
    this.info = {
      type: 'ntfs',
      label,
      uuid: this.mft.boot.serial,
      size: this.mft.boot.totalBytes,
      blockSize: this.mft.boot.clusterSize,
      clean,
      warnings: clean ? [] : ['the volume is marked dirty (not cleanly unmounted, or chkdsk is scheduled)'],
    };
  }

  protected async listRaw(path: string): Promise<DirEntry[]> {
    const r = await this.resolve(path);
    if (!isDir(r.file)) throw new GuestFsError('not-dir', `${path}: not a directory`);
    const dir = await this.dirData(r.number, r.path);
    const out: DirEntry[] = [];
    for (const e of dir.entries) {
      if (e.namespace === NAMESPACE_DOS || e.ref === r.number || (r.number === ROOT && e.ref < FIRST_USER_RECORD)) continue;
      const dirFlag = (e.flags & FILE_ATTR_DIRECTORY) !== 0;
      let type: DirEntry['type'] = dirFlag ? 'dir' : e.flags & 0x400 ? 'symlink' : 'file';
      // An ntfs-3g (Interix) symlink is a small system file: only those few are opened to tell.
      if (type === 'file' && e.flags & 0x4 && e.dataSize >= 10 && e.dataSize <= MAX_INTERIX_BYTES) {
        const target = await this.mft.file(e.ref).then(
          (f) => this.symlinkTarget(f, e.flags),
          () => undefined,
        );
        if (target !== undefined) type = 'symlink';
      }
      out.push({ name: e.name, type, id: e.ref, size: dirFlag ? 0 : e.dataSize, mtime: e.mtime });
    }
    return out;
  }

  protected async statRaw(path: string): Promise<FileStat> {
    const r = await this.resolve(path);
    const f = r.file;
    const si = f.attrs.find((a) => a.type === AT.STANDARD_INFORMATION)?.value;
    const dir = isDir(f);
    const data = r.stream || !dir ? this.dataAttr(r) : undefined;
    const fileAttrs = si && si.length >= 36 ? le32(si, 32) : 0;
    const target = dir || r.stream ? undefined : await this.symlinkTarget(f, fileAttrs);
    const streams = f.attrs.filter((a) => a.type === AT.DATA && a.name !== '').map((a) => a.name);
    return {
      id: r.number,
      type: dir ? 'dir' : target !== undefined ? 'symlink' : 'file',
      ...(target !== undefined ? { target } : {}),
      size: data ? data.dataSize : 0,
      crtime: si ? ntfsTime(si, 0) : undefined,
      mtime: si ? ntfsTime(si, 8) : undefined,
      ctime: si ? ntfsTime(si, 16) : undefined,
      atime: si ? ntfsTime(si, 24) : undefined,
      links: f.record.links,
      attributes: ATTR_NAMES.filter(([bit]) => fileAttrs & bit)
        .map(([, n]) => n)
        .concat(dir ? ['directory'] : []),
      streams,
    };
  }

  protected async readRaw(path: string, offset: number, length: number): Promise<Uint8Array> {
    const r = await this.resolve(path);
    if (isDir(r.file) && !r.stream) throw new GuestFsError('is-dir', `${path}: is a directory`);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0)
      throw new GuestFsError('not-found', `${path}: bad range ${offset}+${length}`);
    const attr = this.dataAttr(r);
    if (attr.flags & 0x4000) throw new GuestFsError('unsupported', `${path}: the file is encrypted (EFS)`);
    return this.mft.reader.read(attr, offset, length, path, `${r.number}:${r.stream}`);
  }

  protected async extentsRaw(path: string): Promise<Extent[]> {
    const r = await this.resolve(path);
    const out: Extent[] = [];
    const attr = isDir(r.file) && !r.stream ? r.file.attrs.find((a) => a.type === AT.INDEX_ALLOCATION && a.name === '$I30') : this.dataAttr(r);
    if (!attr) return out;
    if (!attr.nonResident) {
      // Resident data lives inside the file's MFT record.
      const rec = this.mft.recordDeviceOffset(r.number);
      if (rec !== undefined && attr.dataSize > 0) pushDiskExtent(this.dev, out, 0, rec + attr.valueOffset, attr.dataSize);
      return out;
    }
    const cs = this.mft.boot.clusterSize;
    // A compressed attribute's runs hold LZNT1 data: its extents say where each unit's stored clusters lie (logical =
    // the unit's start), not a byte-for-byte map of the file.
    const limit = this.mft.reader.isCompressed(attr) ? attr.allocSize : attr.dataSize;
    for (const run of attr.runs) {
      if (run.lcn < 0) continue;
      const logical = run.vcn * cs;
      const len = Math.min(run.length * cs, limit - logical);
      if (len <= 0) break;
      pushDiskExtent(this.dev, out, logical, run.lcn * cs, len);
    }
    return out;
  }

  /** The boot sectors and the clusters of the system files (MFT records 0–15: $MFT, $MFTMirr, $LogFile, $Bitmap, …). */
  async metadataRanges(signal?: AbortSignal): Promise<DeviceRange[]> {
    const boot = this.mft.boot;
    const out: DeviceRange[] = [
      { offset: 0, length: boot.sectorSize },
      { offset: boot.totalBytes - boot.sectorSize, length: boot.sectorSize },
    ];
    for (let n = 0; n < 16; n++) {
      signal?.throwIfAborted();
      // A damaged or unused system record leaves its clusters unmarked, not the whole map.
      const file = await this.mft.file(n).catch(() => undefined);
      for (const a of file?.attrs ?? [])
        for (const r of a.runs) if (r.lcn >= 0) out.push({ offset: r.lcn * boot.clusterSize, length: r.length * boot.clusterSize });
    }
    return out;
  }

  async owner(deviceOffset: number, signal?: AbortSignal): Promise<Owner> {
    this.ownerIndex ??= buildNtfsOwnerIndex(this.mft, signal).catch((err) => {
      this.ownerIndex = undefined;
      throw err;
    });
    return ntfsOwner(this, await this.ownerIndex, deviceOffset);
  }

  /** A record's path from its $FILE_NAME parents (Win32 name first); bounded and loop-safe. */
  async pathOf(number: number): Promise<string> {
    const parts: string[] = [];
    const seen = new Set<number>();
    let n = number;
    while (n !== ROOT) {
      if (seen.has(n) || parts.length > MAX_DEPTH) return `<loop at MFT record ${n}>/${parts.reverse().join('/')}`;
      seen.add(n);
      const file = await this.mft.file(n);
      const names = file.attrs.filter((a) => a.type === AT.FILE_NAME && a.value).map((a) => parseFileName(a.value!, `MFT record ${n}`));
      const name = names.find((x) => x.namespace !== NAMESPACE_DOS) ?? names[0];
      if (!name) return `<MFT record ${number}>`;
      parts.push(name.name);
      n = name.parent;
    }
    return '/' + parts.reverse().join('/');
  }

  /**
   * A symlink's target: a Windows symlink or junction (reparse tags 0xA000000C, 0xA0000003; the print name), or
   * an ntfs-3g/Interix symlink (a system file holding "IntxLNK\1" and the UTF-16 target).
   */
  private async symlinkTarget(f: NtfsFile, fileAttrs: number): Promise<string | undefined> {
    const rp = f.attrs.find((a) => a.type === AT.REPARSE_POINT)?.value;
    if (rp && rp.length >= 16) {
      const tag = le32(rp, 0);
      const base = tag === 0xa000000c ? 20 : tag === 0xa0000003 ? 16 : -1;
      if (base < 0) return undefined;
      const [subOff, subLen, printOff, printLen] = [le16(rp, 8), le16(rp, 10), le16(rp, 12), le16(rp, 14)];
      const [off, len] = printLen > 0 ? [printOff, printLen] : [subOff, subLen];
      if (base + off + len > rp.length) return undefined;
      return utf16(rp, base + off, len >> 1);
    }
    const data = f.attrs.find((a) => a.type === AT.DATA && a.name === '');
    if (!(fileAttrs & 0x4) || !data || data.dataSize < 10 || data.dataSize > MAX_INTERIX_BYTES) return undefined;
    const head = await this.mft.reader.read(data, 0, data.dataSize, 'symlink');
    if (String.fromCharCode(...head.subarray(0, 8)) !== 'IntxLNK\x01') return undefined;
    return utf16(head, 8, (head.length - 8) >> 1);
  }

  private dataAttr(r: Resolved): Attr {
    const a = r.file.attrs.find((x) => x.type === AT.DATA && x.name === r.stream);
    if (!a) throw new GuestFsError('not-found', `${r.path}: no ${r.stream ? `stream '${r.stream}'` : '$DATA attribute'}`);
    return a;
  }

  private async dirData(number: number, path: string): Promise<DirData> {
    const hit = this.dirs.get(number);
    if (hit) return hit;
    const dir: DirData = { entries: await readDirIndex(this.mft, await this.mft.file(number), path) };
    this.dirs.set(number, dir);
    return dir;
  }

  private nameIndex(dir: DirData): Map<string, number> {
    if (dir.byName) return dir.byName;
    const byName = new Map<string, number>();
    dir.entries.forEach((e, i) => {
      const key = e.name.toLowerCase();
      if (!byName.has(key) || e.namespace !== NAMESPACE_DOS) byName.set(key, i);
    });
    dir.byName = byName;
    return byName;
  }

  /** Resolves a path (the last part may be `name:stream`), refusing a directory that leads back to an ancestor. */
  private async resolve(path: string): Promise<Resolved> {
    const parts = splitPath(path);
    if (parts.length > MAX_DEPTH) throw new GuestFsError('not-found', `${path}: deeper than ${MAX_DEPTH} levels`);
    let stream = '';
    if (parts.length > 0) {
      const last = parts[parts.length - 1];
      const colon = last.indexOf(':');
      if (colon > 0) {
        stream = last.slice(colon + 1);
        parts[parts.length - 1] = last.slice(0, colon);
      }
    }
    let number = ROOT;
    let file = await this.mft.file(ROOT);
    let at = '/';
    const ancestors = [ROOT];
    for (const part of parts) {
      if (!isDir(file)) throw new GuestFsError('not-dir', `${path}: ${at} is not a directory`);
      const dir = await this.dirData(number, at);
      const i = this.nameIndex(dir).get(part.toLowerCase());
      if (i === undefined) throw new GuestFsError('not-found', `${path}: no such file or directory`);
      const e = dir.entries[i];
      at = at === '/' ? `/${e.name}` : `${at}/${e.name}`;
      if (ancestors.includes(e.ref)) throw badFs(`${at}: MFT record ${e.ref} is its own ancestor (a directory loop)`);
      ancestors.push(e.ref);
      number = e.ref;
      file = await this.mft.file(number);
    }
    return { path: at, number, file, stream };
  }
}

function isDir(f: NtfsFile): boolean {
  return f.record.isDir || f.attrs.some((a) => a.type === AT.INDEX_ROOT && a.name === '$I30');
}
