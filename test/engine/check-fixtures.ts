/** Helpers for the check tests: run both checkers, and patch metadata bytes of qemu-made images. */
import { closeSync, openSync, readSync, writeSync, statSync, truncateSync } from 'node:fs';
import { qemuImg } from '../helpers/qemu';
import { openForCheck } from '../../src/qcow2/check/open-for-check';
import { checkImage, type CheckResultEx, type RepairMode } from '../../src/qcow2/check/check';
import { checkJson } from '../../src/cli/commands/check';

export interface QemuCheck {
  code: number;
  json?: Record<string, number | string>;
  stderr: string;
}

export function qemuCheck(path: string, repair?: RepairMode): QemuCheck {
  const args = ['check', '--output=json', ...(repair ? ['-r', repair] : []), path];
  const r = qemuImg(args, true);
  let json: Record<string, number | string> | undefined;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { code: r.code, json, stderr: r.stderr };
}

export async function ourCheck(path: string, repair?: RepairMode): Promise<{ code: number; json?: Record<string, number | string>; result: CheckResultEx }> {
  const dev = await openForCheck(path, !repair);
  try {
    const result = await checkImage(dev, { repair });
    const json = result.failure ? undefined : JSON.parse(checkJson(result.summary, path));
    return { code: result.exitCode, json, result };
  } finally {
    await dev.close();
  }
}

/** Positioned big-endian reads and writes on an image file. */
export class Patch {
  constructor(readonly path: string) {}

  read(off: number, len: number): Buffer {
    const fd = openSync(this.path, 'r');
    try {
      const b = Buffer.alloc(len);
      readSync(fd, b, 0, len, off);
      return b;
    } finally {
      closeSync(fd);
    }
  }

  write(off: number, data: Buffer): void {
    const fd = openSync(this.path, 'r+');
    try {
      writeSync(fd, data, 0, data.length, off);
    } finally {
      closeSync(fd);
    }
  }

  u64(off: number): bigint {
    return this.read(off, 8).readBigUInt64BE(0);
  }

  setU64(off: number, v: bigint): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64BE(v);
    this.write(off, b);
  }

  u32(off: number): number {
    return this.read(off, 4).readUInt32BE(0);
  }

  setU32(off: number, v: number): void {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(v >>> 0);
    this.write(off, b);
  }

  u16(off: number): number {
    return this.read(off, 2).readUInt16BE(0);
  }

  get size(): number {
    return statSync(this.path).size;
  }

  truncate(size: number): void {
    truncateSync(this.path, size);
  }
}

export const OFFSET_MASK = 0x00fffffffffffe00n;
export const COPIED = 1n << 63n;
export const COMPRESSED = 1n << 62n;

/** The metadata layout of an image, read from its header. */
export class Layout {
  readonly p: Patch;
  readonly clusterBits: number;
  readonly cs: number;
  readonly l1Offset: number;
  readonly l1Size: number;
  readonly reftableOffset: number;
  readonly refcountBits: number;
  readonly extL2: boolean;
  readonly snapshotsOffset: number;
  readonly nbSnapshots: number;

  constructor(path: string) {
    this.p = new Patch(path);
    const p = this.p;
    this.clusterBits = p.u32(20);
    this.cs = 2 ** this.clusterBits;
    this.l1Size = p.u32(36);
    this.l1Offset = Number(p.u64(40));
    this.reftableOffset = Number(p.u64(48));
    const version = p.u32(4);
    this.refcountBits = version >= 3 ? 2 ** p.u32(96) : 16;
    this.extL2 = version >= 3 && (Number(p.u64(72)) & 16) !== 0;
    this.nbSnapshots = p.u32(60);
    this.snapshotsOffset = Number(p.u64(64));
  }

  get l2EntryBytes(): number {
    return this.extL2 ? 16 : 8;
  }

  l1Entry(i: number): bigint {
    return this.p.u64(this.l1Offset + i * 8);
  }

  setL1Entry(i: number, v: bigint): void {
    this.p.setU64(this.l1Offset + i * 8, v);
  }

  l2Offset(l1Index = 0): number {
    return Number(this.l1Entry(l1Index) & OFFSET_MASK);
  }

  l2EntryAt(index: number, l1Index = 0): number {
    return this.l2Offset(l1Index) + index * this.l2EntryBytes;
  }

  l2Entry(index: number, l1Index = 0): bigint {
    return this.p.u64(this.l2EntryAt(index, l1Index));
  }

  setL2Entry(index: number, v: bigint, l1Index = 0): void {
    this.p.setU64(this.l2EntryAt(index, l1Index), v);
  }

  dataOffset(index: number, l1Index = 0): number {
    return Number(this.l2Entry(index, l1Index) & OFFSET_MASK);
  }

  refblockOffset(i = 0): number {
    return Number(this.p.u64(this.reftableOffset + i * 8) & ~0x1ffn);
  }

  /** Sets the on-disk refcount of a host cluster (refblock 0 must cover it). */
  setRefcount(cluster: number, value: number): void {
    const perBlock = (this.cs * 8) / this.refcountBits;
    const block = this.refblockOffset(Math.floor(cluster / perBlock));
    const idx = cluster % perBlock;
    const bits = this.refcountBits;
    if (bits >= 8) {
      const bytes = bits / 8;
      const b = Buffer.alloc(bytes);
      b.writeUIntBE(value, Math.max(0, bytes - 6), Math.min(bytes, 6));
      this.p.write(block + idx * bytes, b);
    } else {
      const perByte = 8 / bits;
      const at = block + Math.floor(idx / perByte);
      const shift = (idx % perByte) * bits;
      const old = this.p.read(at, 1)[0];
      const mask = ((1 << bits) - 1) << shift;
      this.p.write(at, Buffer.from([(old & ~mask) | (value << shift)]));
    }
  }

  refcount(cluster: number): number {
    const perBlock = (this.cs * 8) / this.refcountBits;
    const block = this.refblockOffset(Math.floor(cluster / perBlock));
    const idx = cluster % perBlock;
    const bits = this.refcountBits;
    if (bits >= 8) return this.p.read(block + (idx * bits) / 8, bits / 8).readUIntBE(Math.max(0, bits / 8 - 6), Math.min(6, bits / 8));
    const perByte = 8 / bits;
    return (this.p.read(block + Math.floor(idx / perByte), 1)[0] >> ((idx % perByte) * bits)) & ((1 << bits) - 1);
  }
}
