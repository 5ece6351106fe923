/**
 * Directory entries (ext4_dir_entry_2) from linear directory blocks. An htree directory reads the same way: its
 * index blocks are wrapped in empty entries (inode 0) that this skips, and so is the metadata_csum tail entry.
 */
import { u16, u32 } from '../bytes';
import { GuestFsError, type FileType } from '../types';

export interface RawDirEntry {
  name: string;
  ino: number;
  /** From the entry's file_type byte; undefined when the file system has no filetype feature. */
  type?: FileType;
}

const TYPES: (FileType | undefined)[] = [undefined, 'file', 'dir', 'other', 'other', 'other', 'other', 'symlink'];
const utf8 = new TextDecoder();

function decodeName(b: Uint8Array, at: number, len: number): string {
  let ascii = true;
  for (let i = 0; i < len; i++) if (b[at + i] >= 0x80) ascii = false;
  return ascii ? String.fromCharCode(...b.subarray(at, at + len)) : utf8.decode(b.subarray(at, at + len));
}

/** ext4_rec_len_from_disk: 64 KiB blocks store 65536 as 0 or 65535. */
function recLen(raw: number, blockSize: number): number {
  if (blockSize < 65536) return raw;
  if (raw === 65535 || raw === 0) return blockSize;
  return (raw & 65532) | ((raw & 3) << 16);
}

/**
 * Appends the live entries of `buf[start, end)` (one directory block, or an inline-data region) to `out`,
 * leaving out "." and "..". Throws on an entry that would run past the region.
 */
export function parseDirRegion(buf: Uint8Array, start: number, end: number, blockSize: number, hasFileType: boolean, out: RawDirEntry[], what: string): void {
  let at = start;
  while (at + 8 <= end) {
    const ino = u32(buf, at);
    const rec = recLen(u16(buf, at + 4), blockSize);
    const nameLen = hasFileType ? buf[at + 6] : u16(buf, at + 6) & 0xff;
    if (rec < 8 || rec % 4 || at + rec > end || 8 + nameLen > rec) {
      throw new GuestFsError('bad-fs', `${what}: directory entry at byte ${at - start} has a bad length (${rec})`);
    }
    if (ino !== 0 && nameLen > 0) {
      const isDot = (nameLen === 1 && buf[at + 8] === 0x2e) || (nameLen === 2 && buf[at + 8] === 0x2e && buf[at + 9] === 0x2e);
      if (!isDot) out.push({ name: decodeName(buf, at + 8, nameLen), ino, type: hasFileType ? (TYPES[buf[at + 7]] ?? 'other') : undefined });
    }
    at += rec;
  }
}
