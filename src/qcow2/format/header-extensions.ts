import { u32, u64OrNull } from './bytes';
import { badImage } from '../errors';

export const EXT_END = 0;
export const EXT_BACKING_FORMAT = 0xe2792aca;
export const EXT_FEATURE_TABLE = 0x6803f857;
export const EXT_BITMAPS = 0x23852875;
export const EXT_CRYPTO = 0x0537be77;
export const EXT_DATA_FILE = 0x44415441;

export interface FeatureName {
  /** 0 incompatible, 1 compatible, 2 autoclear. */
  type: number;
  bit: number;
  name: string;
}

export interface BitmapsExtension {
  nbBitmaps: number;
  directorySize: number;
  directoryOffset: number;
}

export interface RawExtension {
  type: number;
  data: Uint8Array;
}

export interface HeaderExtensions {
  backingFormat?: string;
  featureNames: FeatureName[];
  bitmaps?: BitmapsExtension;
  crypto?: { offset: number; length: number };
  dataFile?: string;
  /** Extensions we do not interpret, kept verbatim. */
  unknown: RawExtension[];
}

const MAX_BITMAPS = 65535;
const MAX_BITMAP_DIRECTORY = 64 * 1024 * 1024;
const MAX_NAME = 1023;

/** Walks the {type, len, data} records between the header and the backing file name. */
export function parseHeaderExtensions(cluster0: Uint8Array, start: number, end: number, file: string, clusterSize = cluster0.length): HeaderExtensions {
  const ext: HeaderExtensions = { featureNames: [], unknown: [] };
  const seen = new Set<number>();
  let off = start;
  while (off + 8 <= end) {
    const type = u32(cluster0, off);
    const len = u32(cluster0, off + 4);
    off += 8;
    if (type === EXT_END) return ext;
    if (len > end - off) throw badImage(file, `header extension 0x${type.toString(16)} (${len} bytes) overruns the header cluster`);
    const data = cluster0.subarray(off, off + len);
    off += Math.ceil(len / 8) * 8;
    if (seen.has(type) && type !== EXT_FEATURE_TABLE) throw badImage(file, `duplicate header extension 0x${type.toString(16)}`);
    seen.add(type);
    switch (type) {
      case EXT_BACKING_FORMAT:
        ext.backingFormat = asciiName(data, file, 'backing format');
        break;
      case EXT_DATA_FILE:
        ext.dataFile = asciiName(data, file, 'data file name');
        break;
      case EXT_FEATURE_TABLE:
        // A last entry shorter than 48 bytes is read as if zero-padded, as QEMU does (iotest 036 writes such tables).
        for (let i = 0; i + 2 < data.length; i += 48) {
          ext.featureNames.push({ type: data[i], bit: data[i + 1], name: cString(data.subarray(i + 2, Math.min(i + 48, data.length))) });
        }
        break;
      case EXT_BITMAPS: {
        if (len < 24) throw badImage(file, 'bitmaps header extension is too short');
        const nbBitmaps = u32(data, 0);
        const directorySize = u64OrNull(data, 8);
        const directoryOffset = u64OrNull(data, 16);
        if (directorySize === null || directoryOffset === null) throw badImage(file, 'bitmap directory is out of range');
        if (nbBitmaps === 0 || nbBitmaps > MAX_BITMAPS) throw badImage(file, `invalid bitmap count ${nbBitmaps}`);
        if (directorySize > MAX_BITMAP_DIRECTORY) throw badImage(file, `bitmap directory is too large (${directorySize} bytes)`);
        if (directoryOffset % clusterSize !== 0) throw badImage(file, 'bitmap directory offset is not cluster-aligned');
        ext.bitmaps = { nbBitmaps, directorySize, directoryOffset };
        break;
      }
      case EXT_CRYPTO: {
        if (len < 16) throw badImage(file, 'encryption header extension is too short');
        const offset = u64OrNull(data, 0);
        const length = u64OrNull(data, 8);
        if (offset === null || length === null) throw badImage(file, 'encryption header pointer is out of range');
        ext.crypto = { offset, length };
        break;
      }
      default:
        ext.unknown.push({ type, data: data.slice() });
    }
  }
  // Without an end marker the walk stops at the end of the area; QEMU accepts that too.
  return ext;
}

function asciiName(data: Uint8Array, file: string, what: string): string {
  if (data.length > MAX_NAME) throw badImage(file, `${what} is too long`);
  const s = new TextDecoder('utf-8', { fatal: false }).decode(data);
  if (s.includes('\0')) throw badImage(file, `${what} contains a NUL byte`);
  return s;
}

function cString(b: Uint8Array): string {
  const nul = b.indexOf(0);
  return new TextDecoder('utf-8', { fatal: false }).decode(nul >= 0 ? b.subarray(0, nul) : b);
}
