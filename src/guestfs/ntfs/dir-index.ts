/**
 * Directory listing from the $I30 index: $INDEX_ROOT entries, and the $INDEX_ALLOCATION nodes (INDX records)
 * they point to, walked in order (a B+ tree: a node's subtree comes before its entry). Each node is visited once
 * and the depth is bounded, so a node that points back at an ancestor or a chain of 100 levels is an error, not a
 * hang. An allocation of up to 16 MiB is read in one piece (a 10,000-entry directory is about 300 nodes); a
 * bigger one node by node.
 */
import { badFs, le16, le32, le64, utf16 } from '../reader-util';
import { AT, applyFixups, ntfsTime, refNumber } from './record';
import type { Mft, NtfsFile } from './mft';

/** One index entry: the $FILE_NAME key's fields a listing needs. */
export interface IndexEntry {
  ref: number;
  name: string;
  /** 0 POSIX, 1 Win32, 2 DOS, 3 Win32 and DOS. */
  namespace: number;
  /** The file attribute flags the index records. */
  flags: number;
  dataSize: number;
  mtime?: Date;
}

export const MAX_INDEX_DEPTH = 32;
const WHOLE_READ_MAX = 16 * 1024 * 1024;

export async function readDirIndex(mft: Mft, dir: NtfsFile, what: string): Promise<IndexEntry[]> {
  const root = dir.attrs.find((a) => a.type === AT.INDEX_ROOT && a.name === '$I30');
  if (!root?.value) throw badFs(`${what}: directory has no $I30 index root`);
  const alloc = dir.attrs.find((a) => a.type === AT.INDEX_ALLOCATION && a.name === '$I30');
  const v = root.value;
  if (v.length < 32) throw badFs(`${what}: $INDEX_ROOT is truncated`);
  const blockSize = le32(v, 8);
  const out: IndexEntry[] = [];
  const visited = new Set<number>();
  const cs = mft.boot.clusterSize;
  const vcnUnit = blockSize >= cs ? cs : 512;
  if (alloc && (blockSize < 512 || blockSize > 65536 || (blockSize & (blockSize - 1)) !== 0)) throw badFs(`${what}: index block size ${blockSize}`);

  const walkNode = async (buf: Uint8Array, header: number, depth: number): Promise<void> => {
    const start = header + le32(buf, header);
    const end = Math.min(header + le32(buf, header + 4), buf.length);
    for (let off = start; off + 16 <= end;) {
      const len = le16(buf, off + 8);
      const keyLen = le16(buf, off + 10);
      const flags = le16(buf, off + 12);
      if (len < 16 || off + len > end || 16 + keyLen > len) throw badFs(`${what}: malformed index entry at byte ${off}`);
      if (flags & 1) {
        if (len < 24) throw badFs(`${what}: index entry with a child but no room for its VCN`);
        await walkChild(le64(buf, off + len - 8), depth + 1);
      }
      if (flags & 2) break;
      // The key is a $FILE_NAME, read in place.
      const k = off + 16;
      if (keyLen < 66 || 66 + 2 * buf[k + 64] > keyLen) throw badFs(`${what}: $FILE_NAME is truncated`);
      out.push({
        ref: refNumber(buf, off),
        name: utf16(buf, k + 66, buf[k + 64]),
        namespace: buf[k + 65],
        flags: le32(buf, k + 56),
        dataSize: le64(buf, k + 48),
        mtime: ntfsTime(buf, k + 16),
      });
      off += len;
    }
  };

  const walkChild = async (vcn: number, depth: number): Promise<void> => {
    if (!alloc) throw badFs(`${what}: index entry points to a child node but there is no $INDEX_ALLOCATION`);
    if (depth > MAX_INDEX_DEPTH) throw badFs(`${what}: index is deeper than ${MAX_INDEX_DEPTH} levels`);
    if (visited.has(vcn)) throw badFs(`${what}: index node at VCN ${vcn} is visited twice (a loop)`);
    visited.add(vcn);
    const at = vcn * vcnUnit;
    if (!Number.isSafeInteger(at) || at + blockSize > alloc.dataSize) throw badFs(`${what}: index node VCN ${vcn} lies past the allocation`);
    const buf = whole ? whole.subarray(at, at + blockSize) : await mft.reader.read(alloc, at, blockSize, `${what} $INDEX_ALLOCATION`);
    applyFixups(buf, 'INDX', `${what} index node ${vcn}`);
    await walkNode(buf, 24, depth);
  };

  // Each node is visited once, so its fixups may be applied in place in the one big read.
  const whole = alloc && alloc.dataSize <= WHOLE_READ_MAX ? await mft.reader.read(alloc, 0, alloc.dataSize, `${what} $INDEX_ALLOCATION`) : undefined;
  await walkNode(v, 16, 0);
  return out;
}
