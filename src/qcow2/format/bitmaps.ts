import { u16, u32, u64OrNull } from './bytes';
import { badImage } from '../errors';
import { readFully, type Qcow2IoOps } from '../io/ops';
import type { BitmapsExtension } from './header-extensions';

export const BME_FLAG_IN_USE = 1 << 0;
export const BME_FLAG_AUTO = 1 << 1;
/** Flags QEMU knows (in use, auto, extra data compatible); any other bit is reserved. */
const BME_KNOWN_FLAGS = 7;

/**
 * What QEMU's check_constraints_on_bitmap rejects in a directory entry's own fields (type, granularity, reserved
 * flags), worded for a person; undefined when they are fine. qemu-img then refuses to open the image at all; we
 * open it, read the disk, and report the bitmap as damage (check, Overview) while refusing writes.
 */
export function bitmapConstraintProblem(e: { name: string; type: number; granularityBits: number; flags: number }): string | undefined {
  const name = `bitmap '${e.name.slice(0, 64)}'`;
  if (e.type !== 1) return `${name} has type ${e.type}, not a dirty tracking bitmap (1)`;
  if (e.granularityBits < 9 || e.granularityBits > 31) return `${name} has granularity 2^${e.granularityBits}, outside 2^9 to 2^31`;
  if (e.flags & ~BME_KNOWN_FLAGS) return `${name} has reserved flag bits set (0x${(e.flags >>> 0).toString(16)})`;
  return undefined;
}

/** QEMU's BME_MAX_NAME_SIZE. */
export const MAX_BITMAP_NAME = 1023;

export interface BitmapEntry {
  name: string;
  tableOffset: number;
  tableSize: number;
  flags: number;
  type: number;
  granularityBits: number;
  /** Flag names as qemu-img info prints them. */
  flagNames: string[];
}

/** Reads the bitmap directory named by the bitmaps header extension. */
export async function readBitmapDirectory(io: Qcow2IoOps, ext: BitmapsExtension, fileSize: number): Promise<BitmapEntry[]> {
  const file = io.path;
  if (ext.directoryOffset + ext.directorySize > fileSize) throw badImage(file, 'bitmap directory lies beyond the end of the file');
  const buf = new Uint8Array(ext.directorySize);
  if ((await readFully(io, buf, ext.directoryOffset)) < buf.length) throw badImage(file, 'bitmap directory is truncated');
  const entries: BitmapEntry[] = [];
  let pos = 0;
  for (let i = 0; i < ext.nbBitmaps; i++) {
    if (pos + 24 > buf.length) throw badImage(file, 'bitmap directory is shorter than its bitmap count');
    const tableOffset = u64OrNull(buf, pos);
    if (tableOffset === null) throw badImage(file, `bitmap ${i} table offset is out of range`);
    const nameSize = u16(buf, pos + 18);
    const extraSize = u32(buf, pos + 20);
    if (nameSize > MAX_BITMAP_NAME) throw badImage(file, `bitmap ${i} name is too long (${nameSize} bytes, limit ${MAX_BITMAP_NAME})`);
    const len = 24 + extraSize + nameSize;
    if (pos + len > buf.length) throw badImage(file, `bitmap ${i} entry overruns the bitmap directory`);
    const flags = u32(buf, pos + 12);
    const flagNames: string[] = [];
    if (flags & BME_FLAG_IN_USE) flagNames.push('in-use');
    if (flags & BME_FLAG_AUTO) flagNames.push('auto');
    entries.push({
      name: new TextDecoder().decode(buf.subarray(pos + 24 + extraSize, pos + len)),
      tableOffset,
      tableSize: u32(buf, pos + 8),
      flags,
      type: buf[pos + 16],
      granularityBits: buf[pos + 17],
      flagNames,
    });
    pos += Math.ceil(len / 8) * 8;
  }
  return entries;
}
