/**
 * NTFS multi-sector records (MFT "FILE" and index "INDX"): the update sequence (fixups) is checked and applied,
 * then attributes are parsed with every offset and length bounded by the record, and runlists are decoded with
 * their run count bounded by the attribute's own VCN range.
 */
import { badFs, le16, le32, le64, utf16 } from '../reader-util';

export const AT = {
  STANDARD_INFORMATION: 0x10,
  ATTRIBUTE_LIST: 0x20,
  FILE_NAME: 0x30,
  VOLUME_NAME: 0x60,
  VOLUME_INFORMATION: 0x70,
  DATA: 0x80,
  INDEX_ROOT: 0x90,
  INDEX_ALLOCATION: 0xa0,
  BITMAP: 0xb0,
  REPARSE_POINT: 0xc0,
} as const;

/** One run: `length` clusters from `vcn`; lcn -1 is a sparse (unallocated) run. */
export interface Run {
  vcn: number;
  lcn: number;
  length: number;
}

export interface Attr {
  type: number;
  name: string;
  flags: number;
  id: number;
  nonResident: boolean;
  /** Resident value, and where it starts in its record (for extents of resident data). */
  value?: Uint8Array;
  valueOffset: number;
  startVcn: number;
  lastVcn: number;
  compressionUnit: number;
  allocSize: number;
  dataSize: number;
  initSize: number;
  runs: Run[];
}

export interface MftRecord {
  number: number;
  inUse: boolean;
  isDir: boolean;
  links: number;
  /** Base record number for an extension record, else 0. */
  base: number;
  attrs: Attr[];
}

/** Applies the update sequence array in place. Every 512-byte stride must end with the sequence number. */
export function applyFixups(buf: Uint8Array, magic: string, what: string): void {
  if (String.fromCharCode(buf[0], buf[1], buf[2], buf[3]) !== magic) throw badFs(`${what}: no ${magic} signature`);
  const usaOff = le16(buf, 4);
  const usaCount = le16(buf, 6);
  const strides = buf.length / 512;
  if (usaCount !== strides + 1 || usaOff + 2 * usaCount > buf.length || usaOff < 8)
    throw badFs(`${what}: bad update sequence (${usaCount} entries for ${buf.length} bytes)`);
  const usn = le16(buf, usaOff);
  for (let i = 0; i < strides; i++) {
    const end = i * 512 + 510;
    if (le16(buf, end) !== usn) throw badFs(`${what}: torn write (update sequence mismatch in sector ${i})`);
    buf[end] = buf[usaOff + 2 + 2 * i];
    buf[end + 1] = buf[usaOff + 3 + 2 * i];
  }
}

/** A 48-bit MFT reference's record number (the top 16 bits are the sequence number). */
export const refNumber = (b: Uint8Array, o: number): number => le32(b, o) + le16(b, o + 4) * 0x1_0000_0000;

/** Parses an MFT record whose fixups were applied. */
export function parseRecord(buf: Uint8Array, number: number): MftRecord {
  const what = `MFT record ${number}`;
  const flags = le16(buf, 22);
  const used = Math.min(le32(buf, 24), buf.length);
  let off = le16(buf, 20);
  const attrs: Attr[] = [];
  // Each attribute is at least 24 bytes, so a record holds at most size/24 of them: the loop is bounded.
  while (off + 8 <= used) {
    const type = le32(buf, off);
    if (type === 0xffffffff) break;
    const len = le32(buf, off + 4);
    if (len < 24 || off + len > used || len % 8 !== 0) throw badFs(`${what}: attribute at byte ${off} has length ${len}`);
    const attr = parseAttr(buf.subarray(off, off + len), what);
    attr.valueOffset += off;
    attrs.push(attr);
    off += len;
  }
  return { number, inUse: (flags & 1) !== 0, isDir: (flags & 2) !== 0, links: le16(buf, 18), base: refNumber(buf, 32), attrs };
}

function parseAttr(a: Uint8Array, what: string): Attr {
  const type = le32(a, 0);
  const nonResident = a[8] !== 0;
  const nameLen = a[9];
  const nameOff = le16(a, 10);
  if (nameLen > 0 && nameOff + 2 * nameLen > a.length) throw badFs(`${what}: attribute 0x${type.toString(16)} name runs past the attribute`);
  const attr: Attr = {
    type,
    name: nameLen > 0 ? utf16(a, nameOff, nameLen) : '',
    flags: le16(a, 12),
    id: le16(a, 14),
    nonResident,
    valueOffset: 0,
    startVcn: 0,
    lastVcn: -1,
    compressionUnit: 0,
    allocSize: 0,
    dataSize: 0,
    initSize: 0,
    runs: [],
  };
  if (!nonResident) {
    const vLen = le32(a, 16);
    const vOff = le16(a, 20);
    if (vOff + vLen > a.length) throw badFs(`${what}: resident attribute 0x${type.toString(16)} value runs past the attribute`);
    attr.value = a.subarray(vOff, vOff + vLen);
    attr.valueOffset = vOff;
    attr.dataSize = attr.initSize = attr.allocSize = vLen;
    return attr;
  }
  if (a.length < 64) throw badFs(`${what}: non-resident attribute header too short`);
  attr.startVcn = le64(a, 16);
  attr.lastVcn = le64(a, 24);
  attr.compressionUnit = le16(a, 34);
  attr.allocSize = le64(a, 40);
  attr.dataSize = le64(a, 48);
  attr.initSize = le64(a, 56);
  if (![attr.startVcn, attr.lastVcn + 1, attr.allocSize, attr.dataSize, attr.initSize].every(Number.isSafeInteger) || attr.lastVcn + 1 < attr.startVcn) {
    throw badFs(`${what}: attribute 0x${type.toString(16)} sizes out of range`);
  }
  if (attr.compressionUnit > 16) throw badFs(`${what}: compression unit 2^${attr.compressionUnit} clusters`);
  attr.runs = decodeRuns(a, le16(a, 32), attr.startVcn, attr.lastVcn, what);
  return attr;
}

/** Decodes a mapping-pairs array. The runs may not exceed the attribute's VCN range. */
export function decodeRuns(a: Uint8Array, off: number, startVcn: number, lastVcn: number, what: string): Run[] {
  const runs: Run[] = [];
  let vcn = startVcn;
  let lcn = 0;
  while (off < a.length && a[off] !== 0) {
    const lenBytes = a[off] & 0x0f;
    const offBytes = a[off] >> 4;
    if (lenBytes === 0 || lenBytes > 8 || offBytes > 8 || off + 1 + lenBytes + offBytes > a.length) throw badFs(`${what}: malformed runlist at byte ${off}`);
    const length = readUnsigned(a, off + 1, lenBytes);
    if (!(length > 0) || vcn + length > lastVcn + 1) throw badFs(`${what}: runlist runs past the attribute's last VCN ${lastVcn}`);
    if (offBytes === 0) runs.push({ vcn, lcn: -1, length });
    else {
      lcn += readSigned(a, off + 1 + lenBytes, offBytes);
      if (!(lcn >= 0) || !Number.isSafeInteger(lcn)) throw badFs(`${what}: runlist points at cluster ${lcn}`);
      runs.push({ vcn, lcn, length });
    }
    vcn += length;
    off += 1 + lenBytes + offBytes;
  }
  return runs;
}

function readUnsigned(b: Uint8Array, o: number, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + b[o + i];
  return Number.isSafeInteger(v) ? v : Infinity;
}

function readSigned(b: Uint8Array, o: number, n: number): number {
  const v = readUnsigned(b, o, n);
  return b[o + n - 1] & 0x80 ? v - 2 ** (8 * n) : v;
}

/** NTFS time (100 ns since 1601) to a Date; undefined for 0. */
export function ntfsTime(b: Uint8Array, o: number): Date | undefined {
  const t = le32(b, o + 4) * 0x1_0000_0000 + le32(b, o);
  if (t === 0) return undefined;
  const d = new Date(t / 10000 - 11644473600000);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

export interface FileName {
  parent: number;
  name: string;
  namespace: number;
  flags: number;
  dataSize: number;
  crtime?: Date;
  mtime?: Date;
  ctime?: Date;
  atime?: Date;
}

/** Parses a $FILE_NAME value (in an MFT record or as an index key). */
export function parseFileName(v: Uint8Array, what: string): FileName {
  if (v.length < 66 || 66 + 2 * v[64] > v.length) throw badFs(`${what}: $FILE_NAME is truncated`);
  return {
    parent: refNumber(v, 0),
    crtime: ntfsTime(v, 8),
    mtime: ntfsTime(v, 16),
    ctime: ntfsTime(v, 24),
    atime: ntfsTime(v, 32),
    dataSize: le64(v, 48),
    flags: le32(v, 56),
    namespace: v[65],
    name: utf16(v, 66, v[64]),
  };
}
