/**
 * Inline data (the inline_data feature): the first 60 bytes live in i_block, the rest in the in-inode extended
 * attribute "system.data". Returns the pieces in order with where each lies in the inode, for reads and extents.
 */
import { u16, u32 } from '../bytes';
import { GuestFsError } from '../types';
import type { Inode } from './inode';

const XATTR_MAGIC = 0xea020000;
const INDEX_SYSTEM = 7;

export interface InlinePiece {
  /** Offset of the piece within the inode's raw bytes. */
  inodeOffset: number;
  bytes: Uint8Array;
}

/** The system.data value inside the inode, if any. */
function systemData(inode: Inode, what: string): InlinePiece | undefined {
  const raw = inode.raw;
  if (raw.length <= 128) return undefined;
  const base = 128 + u16(raw, 0x80);
  if (base + 4 > raw.length || u32(raw, base) !== XATTR_MAGIC) return undefined;
  const first = base + 4;
  let at = first;
  while (at + 16 <= raw.length && u32(raw, at) !== 0) {
    const nameLen = raw[at];
    const index = raw[at + 1];
    const valueOffs = u16(raw, at + 2);
    const valueSize = u32(raw, at + 8);
    if (index === INDEX_SYSTEM && nameLen === 4 && String.fromCharCode(...raw.subarray(at + 16, at + 20)) === 'data') {
      const start = first + valueOffs;
      if (start + valueSize > raw.length) throw new GuestFsError('bad-fs', `${what}: inline data attribute runs past the inode`);
      return { inodeOffset: start, bytes: raw.subarray(start, start + valueSize) };
    }
    at += (16 + nameLen + 3) & ~3;
  }
  return undefined;
}

export function inlinePieces(inode: Inode, what: string): InlinePiece[] {
  const pieces: InlinePiece[] = [{ inodeOffset: 0x28, bytes: inode.iblock }];
  const extra = systemData(inode, what);
  if (extra && extra.bytes.length) pieces.push(extra);
  return pieces;
}

/** The file's bytes (at most its size). */
export function inlineBytes(inode: Inode, what: string): Uint8Array {
  const pieces = inlinePieces(inode, what);
  const total = pieces.reduce((n, p) => n + p.bytes.length, 0);
  const out = new Uint8Array(Math.min(total, inode.size));
  let at = 0;
  for (const p of pieces) {
    const n = Math.min(p.bytes.length, out.length - at);
    out.set(p.bytes.subarray(0, n), at);
    at += n;
  }
  return out;
}
