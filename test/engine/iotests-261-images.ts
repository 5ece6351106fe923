/** The broken snapshot-table images of qemu-iotests 261, built at the offsets the iotest computes. */
import { readFileSync, truncateSync } from 'node:fs';
import { qemuImg } from '../helpers/qemu';
import { be32, be64, patch } from './iotests-support';

export const MiB = 1 << 20;
export const CS = 65536;

/** Entry length as the iotest's snapshot_table_entry_size computes it (8-byte aligned). */
export function entrySize(b: Buffer, at: number): number {
  return Math.ceil((40 + b.readUInt32BE(at + 36) + b.readUInt16BE(at + 12) + b.readUInt16BE(at + 14)) / 8) * 8;
}

/** Sets refcount 1 for every cluster of [start, end) in refblock 0 (refcount_bits=16), as refblock0_allocate. */
export function allocateInRefblock0(path: string, start: number, end: number): void {
  const b = readFileSync(path);
  const refblock = Number(b.readBigUInt64BE(Number(b.readBigUInt64BE(48))));
  for (let c = Math.floor(start / CS); c < Math.ceil(end / CS); c++) patch(path, refblock + c * 2, Buffer.from([0, 1]));
}

/** The 261 template: a v2 image whose three entries have 0, 42 ("very important data" at 16) and 8 bytes of extra data. */
export function v2Template(path: string, fill?: (p: string) => void): void {
  qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'compat=0.10', path, '64M']);
  fill?.(path);
  for (const s of ['sn0', 'sn1', 'sn2']) qemuImg(['snapshot', '-c', s, path]);
  const b = readFileSync(path);
  const table = Number(b.readBigUInt64BE(64));
  const parts: Buffer[] = [];
  let at = table;
  for (const extraLen of [0, 42, 8]) {
    const head = Buffer.from(b.subarray(at, at + 40));
    const oldExtra = b.readUInt32BE(at + 36);
    const idName = b.subarray(at + 40 + oldExtra, at + 40 + oldExtra + head.readUInt16BE(12) + head.readUInt16BE(14));
    head.writeUInt32BE(extraLen, 36);
    const extra = Buffer.alloc(extraLen);
    b.copy(extra, 0, at + 40, at + 40 + Math.min(extraLen, oldExtra));
    if (extraLen === 42) extra.write('very important data', 16);
    const entry = Buffer.concat([head, extra, idName]);
    parts.push(Buffer.concat([entry, Buffer.alloc(Math.ceil(entry.length / 8) * 8 - entry.length)]));
    at += entrySize(b, at);
  }
  patch(path, table, Buffer.concat(parts));
}

/** The fixed part of the big snapshot entry of the "too big" cases: 1 KiB extra, 65535-byte id and name. */
export const BIG_ENTRY = 40 + 1024 + 65535 + 65535 + 2;
export function bigEntryHead(extra = 1024): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt16BE(0xffff, 12);
  h.writeUInt16BE(0xffff, 14);
  h.writeUInt32BE(extra, 36);
  return h;
}

/** "Snapshot table too big": entries of BIG_ENTRY bytes at 1 MiB until past 64 MiB; the last has an L1 and L2 table. */
export function tableTooBig(path: string, fill?: (p: string) => void): { end: number; count: number; written: number } {
  qemuImg(['create', '-q', '-f', 'qcow2', path, '64M']);
  fill?.(path);
  patch(path, 64, be64(MiB));
  let offset = MiB;
  let written = 0;
  let count = 0;
  while (written <= 64 * MiB) {
    patch(path, offset, bigEntryHead());
    offset += BIG_ENTRY;
    written += BIG_ENTRY;
    count++;
  }
  truncateSync(path, offset);
  patch(path, offset - BIG_ENTRY, be64(MiB - 2 * CS));
  patch(path, offset - BIG_ENTRY + 8, be32(1));
  patch(path, MiB - 2 * CS, be64((1n << 63n) | BigInt(MiB - CS)));
  allocateInRefblock0(path, MiB - 2 * CS, offset);
  patch(path, 60, be32(count));
  return { end: offset, count, written };
}

/** "Too many snapshots": 131072 all-zero v2 entries at 1 MiB; entry 65536 has an L1 and L2 table. */
export function tooManySnapshots(path: string, fill?: (p: string) => void): void {
  qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'compat=0.10', path, '64M']);
  fill?.(path);
  patch(path, 64, be64(MiB));
  patch(path, 60, be32(0x20000));
  truncateSync(path, MiB + 40 * 131072);
  patch(path, MiB + 40 * 65536, be64(MiB - 2 * CS));
  patch(path, MiB + 40 * 65536 + 8, be32(1));
  patch(path, MiB - 2 * CS, be64((1n << 63n) | BigInt(MiB - CS)));
  allocateInRefblock0(path, MiB - 2 * CS, MiB + 40 * 131072);
}

/** "Too much unknown extra data": the v2 template made v3, a fourth snapshot, then 64 KiB of extra data in entry 3. */
export function tooMuchExtraData(path: string, fill?: (p: string) => void): void {
  v2Template(path, fill);
  qemuImg(['amend', '-o', 'compat=1.1', path]);
  qemuImg(['snapshot', '-c', 'sn3', path]);
  const b = readFileSync(path);
  let at = Number(b.readBigUInt64BE(64));
  for (let i = 0; i < 3; i++) at += entrySize(b, at);
  patch(path, at + 36, be32(0x10000));
}
