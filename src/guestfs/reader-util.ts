/**
 * Small helpers the FAT and NTFS readers share: little-endian fields, bounded device reads, paths, a bounded LRU,
 * device-to-disk range mapping, and a sorted interval table for owner() lookups. No vscode import.
 */
import { GuestFsError, type DirEntry, type Extent, type FileStat, type ReadOnlyDevice } from './types';

export const le16 = (b: Uint8Array, o: number): number => b[o] | (b[o + 1] << 8);
export const le32 = (b: Uint8Array, o: number): number => (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x100_0000;
/** A little-endian u64 as a number; values past 2^53 come back as Infinity so bounds checks reject them. */
export function le64(b: Uint8Array, o: number): number {
  const hi = le32(b, o + 4);
  return hi > 0x1f_ffff ? Infinity : hi * 0x1_0000_0000 + le32(b, o);
}

export function badFs(message: string): GuestFsError {
  return new GuestFsError('bad-fs', message.replace(/[\r\n]+/g, ' '));
}

/** Reads `length` bytes at a device offset, refusing ranges outside the device with a GuestFsError. */
export async function readDev(dev: ReadOnlyDevice, offset: number, length: number, what: string): Promise<Uint8Array> {
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0 || offset + length > dev.size) {
    throw badFs(`${what} at byte ${offset} (+${length}) lies outside the ${dev.size}-byte device`);
  }
  const buf = new Uint8Array(length);
  if (length > 0) await dev.readAt(buf, offset);
  return buf;
}

/** '/a/b/' -> ['a', 'b']; '.' parts dropped; '..' refused (guest paths are absolute and plain). */
export function splitPath(path: string): string[] {
  if (typeof path !== 'string' || !path.startsWith('/')) throw new GuestFsError('not-found', `${String(path)}: paths are absolute`);
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) throw new GuestFsError('not-found', `${path}: '..' is not supported`);
  return parts;
}

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** The engine's bounded LRU map serves the readers' caches too. */
export { LruCache as Lru } from '../qcow2';

/**
 * Turns a device range into guest-disk extents. A contiguous device maps by adding diskOffset; a device with
 * toDiskOffset (an LVM volume of several segments) is split where the mapping stops being linear.
 */
export function pushDiskExtent(dev: ReadOnlyDevice, out: Extent[], logical: number, deviceOffset: number, length: number): void {
  const map = dev.toDiskOffset?.bind(dev);
  if (!map) return pushMerged(out, logical, dev.diskOffset + deviceOffset, length);
  let done = 0;
  while (done < length) {
    const base = map(deviceOffset + done);
    // Longest linear prefix, by bisection on the last byte (segments are few, so this stays cheap).
    let lo = 1;
    let hi = length - done;
    if (map(deviceOffset + done + hi - 1) !== base + hi - 1) {
      while (lo < hi) {
        const mid = Math.ceil((lo + hi) / 2);
        if (map(deviceOffset + done + mid - 1) === base + mid - 1) lo = mid;
        else hi = mid - 1;
      }
      hi = lo;
    }
    pushMerged(out, logical + done, base, hi);
    done += hi;
  }
}

function pushMerged(out: Extent[], logical: number, diskOffset: number, length: number): void {
  const last = out[out.length - 1];
  if (last && last.logical + last.length === logical && last.diskOffset + last.length === diskOffset) last.length += length;
  else out.push({ logical, diskOffset, length });
}

/**
 * Non-overlapping ranges (in any unit) to owners, sorted once, looked up by binary search. Memory is a few typed
 * arrays per range, so it grows with the file system's metadata (how many runs its files have), not its size.
 */
export class IntervalTable<T> {
  private starts: number[] = [];
  private lengths: number[] = [];
  private owners: T[] = [];
  private sortedStarts?: Float64Array;
  private sortedEnds?: Float64Array;
  private sortedOwners?: T[];
  private sortedLogical?: Float64Array;
  private logicals: number[] = [];

  get count(): number {
    return this.starts.length;
  }

  add(start: number, length: number, owner: T, logical = 0): void {
    this.starts.push(start);
    this.lengths.push(length);
    this.owners.push(owner);
    this.logicals.push(logical);
    this.sortedStarts = undefined;
  }

  /** The owner of `at` and how far into its range `at` is (plus the range's own logical start). */
  find(at: number): { owner: T; logical: number } | undefined {
    if (!this.sortedStarts) this.sort();
    const s = this.sortedStarts!;
    let lo = 0;
    let hi = s.length - 1;
    let hit = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (s[mid] <= at) {
        hit = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    if (hit < 0 || at >= this.sortedEnds![hit]) return undefined;
    return { owner: this.sortedOwners![hit], logical: this.sortedLogical![hit] + (at - s[hit]) };
  }

  private sort(): void {
    const order = this.starts.map((_, i) => i).sort((a, b) => this.starts[a] - this.starts[b]);
    this.sortedStarts = Float64Array.from(order, (i) => this.starts[i]);
    this.sortedEnds = Float64Array.from(order, (i) => this.starts[i] + this.lengths[i]);
    this.sortedLogical = Float64Array.from(order, (i) => this.logicals[i]);
    this.sortedOwners = order.map((i) => this.owners[i]);
  }
}

/** Throws when the caller cancelled (owner() indexing is cancellable). */
export function checkAbort(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new GuestFsError('unsupported', 'indexing was cancelled');
}

/** UTF-16LE bytes to a string. */
export function utf16(b: Uint8Array, off: number, chars: number): string {
  let s = '';
  for (let i = 0; i < chars; i++) s += String.fromCharCode(le16(b, off + 2 * i));
  return s;
}

/** Runs a reader call so that any GuestFsError it throws names the path asked for (once). */
export async function namingPath<T>(path: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof GuestFsError && !err.message.startsWith(`${path}:`))
      throw new GuestFsError(err.code, `${path}: ${err.message.replace(/^\S+: /, (m) => (m.startsWith('/') ? '' : m))}`);
    throw err;
  }
}

/** The path calls of a reader, each naming the path in its errors (namingPath); a reader supplies the raw ones. */
export abstract class PathNamingReader {
  protected abstract listRaw(path: string): Promise<DirEntry[]>;
  protected abstract statRaw(path: string): Promise<FileStat>;
  protected abstract readRaw(path: string, offset: number, length: number): Promise<Uint8Array>;
  protected abstract extentsRaw(path: string): Promise<Extent[]>;

  list(path: string): Promise<DirEntry[]> {
    return namingPath(path, () => this.listRaw(path));
  }

  stat(path: string): Promise<FileStat> {
    return namingPath(path, () => this.statRaw(path));
  }

  read(path: string, offset: number, length: number): Promise<Uint8Array> {
    return namingPath(path, () => this.readRaw(path, offset, length));
  }

  extents(path: string): Promise<Extent[]> {
    return namingPath(path, () => this.extentsRaw(path));
  }
}
