/**
 * FAT directory entries: 32-byte short (8.3) entries, preceded by VFAT long-name entries. A long name is used
 * only when its pieces arrive in order, complete, and carry the checksum of the short name that follows (else
 * the short name stands, as Windows and Linux do). Short names honour the NT lower-case flags (byte 12).
 */
import { le16, le32 } from '../reader-util';
import { decodeOem } from './bpb';

export const ATTR_READONLY = 0x01;
export const ATTR_HIDDEN = 0x02;
export const ATTR_SYSTEM = 0x04;
export const ATTR_VOLUME = 0x08;
export const ATTR_DIR = 0x10;
export const ATTR_ARCHIVE = 0x20;
const ATTR_LFN = 0x0f;

export interface FatEntry {
  name: string;
  shortName: string;
  attr: number;
  firstCluster: number;
  size: number;
  mtime?: Date;
  atime?: Date;
  crtime?: Date;
  /** Byte offset of the short entry within the directory's data (for ids). */
  entryIndex: number;
}

export interface ParsedDir {
  entries: FatEntry[];
  /** The volume label entry's text, when this is the root directory and it has one. */
  label?: string;
}

/** Parses directory bytes. Stops at the first never-used entry (name byte 0), as the spec says. */
export function parseDir(data: Uint8Array): ParsedDir {
  const entries: FatEntry[] = [];
  let label: string | undefined;
  let lfn: string[] = [];
  let lfnSum = -1;
  let lfnNext = 0;
  for (let off = 0; off + 32 <= data.length; off += 32) {
    const first = data[off];
    if (first === 0) break;
    if (first === 0xe5) {
      lfn = [];
      continue;
    }
    const attr = data[off + 11];
    if ((attr & 0x3f) === ATTR_LFN) {
      const seq = first & 0x1f;
      if (first & 0x40) {
        lfn = new Array<string>(seq);
        lfnSum = data[off + 13];
        lfnNext = seq;
      } else if (seq !== lfnNext - 1 || data[off + 13] !== lfnSum) {
        lfn = [];
        continue;
      } else lfnNext = seq;
      if (seq < 1 || lfn.length === 0) {
        lfn = [];
        continue;
      }
      lfn[seq - 1] = lfnPiece(data, off);
      continue;
    }
    if (attr & ATTR_VOLUME) {
      if (!(attr & ATTR_DIR)) label ??= decodeOem(data.subarray(off, off + 11)).replace(/ +$/, '');
      lfn = [];
      continue;
    }
    const shortName = shortNameOf(data, off);
    let name = shortName;
    if (lfn.length > 0 && lfnNext === 1 && lfnSum === checksum(data, off)) {
      const full = lfn.join('');
      const end = full.indexOf('\0');
      name = end >= 0 ? full.slice(0, end) : full;
    }
    lfn = [];
    if (name === '.' || name === '..' || name === '') continue;
    entries.push({
      name,
      shortName,
      attr,
      firstCluster: (le16(data, off + 20) << 16) * 1 + le16(data, off + 26),
      size: le32(data, off + 28),
      mtime: dosTime(le16(data, off + 24), le16(data, off + 22), 0),
      atime: dosTime(le16(data, off + 18), 0, 0),
      crtime: dosTime(le16(data, off + 16), le16(data, off + 14), data[off + 13]),
      entryIndex: off / 32,
    });
  }
  return { entries, label };
}

function lfnPiece(d: Uint8Array, off: number): string {
  let s = '';
  for (const [at, n] of [
    [1, 5],
    [14, 6],
    [28, 2],
  ]) {
    for (let i = 0; i < n; i++) {
      const c = le16(d, off + at + 2 * i);
      if (c === 0xffff) return s; // padding after the terminating NUL
      s += String.fromCharCode(c);
    }
  }
  return s;
}

/** The checksum of an 11-byte short name, which each long-name entry repeats. */
export function checksum(d: Uint8Array, off: number): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = (((sum & 1) << 7) + (sum >> 1) + d[off + i]) & 0xff;
  return sum;
}

function shortNameOf(d: Uint8Array, off: number): string {
  const raw = d.slice(off, off + 11);
  if (raw[0] === 0x05) raw[0] = 0xe5; // 0xE5 as a first character is stored as 0x05
  const flags = d[off + 12];
  let base = decodeOem(raw.subarray(0, 8)).replace(/ +$/, '');
  let ext = decodeOem(raw.subarray(8, 11)).replace(/ +$/, '');
  if (flags & 0x08) base = base.toLowerCase();
  if (flags & 0x10) ext = ext.toLowerCase();
  return ext ? `${base}.${ext}` : base;
}

/** DOS date/time as UTC (FAT stores local time with no zone; mtools and Linux take it as given). */
function dosTime(date: number, time: number, tenMs: number): Date | undefined {
  if (date === 0) return undefined;
  const day = date & 0x1f;
  const month = (date >> 5) & 0x0f;
  const year = 1980 + (date >> 9);
  if (day < 1 || month < 1 || month > 12) return undefined;
  const ms = Date.UTC(year, month - 1, day, time >> 11, (time >> 5) & 0x3f, (time & 0x1f) * 2) + Math.min(tenMs, 199) * 10;
  return new Date(ms);
}

export function attributeNames(attr: number): string[] {
  const out: string[] = [];
  if (attr & ATTR_READONLY) out.push('readonly');
  if (attr & ATTR_HIDDEN) out.push('hidden');
  if (attr & ATTR_SYSTEM) out.push('system');
  if (attr & ATTR_DIR) out.push('directory');
  if (attr & ATTR_ARCHIVE) out.push('archive');
  return out;
}
