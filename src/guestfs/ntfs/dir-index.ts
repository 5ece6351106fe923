/**
 * Directory listing from the $I30 index: $INDEX_ROOT entries, and the $INDEX_ALLOCATION nodes (INDX records)
 * they point to, walked in order (a B+ tree: a node's subtree comes before its entry). Each node is visited once
 * and the depth is bounded, so a node that points back at an ancestor or a chain of 100 levels is an error, not a
 * hang.
 */
import { badFs, le16, le32, le64 } from '../reader-util';
import { AT, applyFixups, parseFileName, refNumber, type FileName } from './record';
import type { Mft, NtfsFile } from './mft';

export interface IndexEntry extends FileName {
  ref: number;
}

export const MAX_INDEX_DEPTH = 32;

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
      const name = parseFileName(buf.subarray(off + 16, off + 16 + keyLen), what);
      out.push({ ...name, ref: refNumber(buf, off) });
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
    const buf = await mft.reader.read(alloc, at, blockSize, `${what} $INDEX_ALLOCATION`);
    applyFixups(buf, 'INDX', `${what} index node ${vcn}`);
    await walkNode(buf, 24, depth);
  };

  await walkNode(v, 16, 0);
  return out;
}
