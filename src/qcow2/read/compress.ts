import * as zlib from 'node:zlib';
import { decompress as fzstdDecompress } from 'fzstd';
import { Qcow2Error } from '../errors';

export const COMPRESSION_DEFLATE = 0;
export const COMPRESSION_ZSTD = 1;

type ZstdSync = (buf: Uint8Array, opts?: object) => Buffer;
const nativeZstdDecompress = (zlib as unknown as { zstdDecompressSync?: ZstdSync }).zstdDecompressSync;
const nativeZstdCompress = (zlib as unknown as { zstdCompressSync?: ZstdSync }).zstdCompressSync;

/**
 * Decompresses one cluster. The input may carry trailing bytes (the rest of the last sector,
 * possibly another cluster's data): QEMU stops once the cluster is full, and so do we.
 */
export function decompressCluster(type: number, input: Uint8Array, clusterSize: number, file: string): Uint8Array {
  let out: Uint8Array;
  try {
    if (type === COMPRESSION_DEFLATE) out = inflateCluster(input, clusterSize);
    else if (type === COMPRESSION_ZSTD) out = zstdCluster(input, clusterSize);
    else throw new Qcow2Error('unsupported', `unknown compression type ${type}`, file);
  } catch (err) {
    if (err instanceof Qcow2Error) throw err;
    throw new Qcow2Error('bad-image', `compressed cluster cannot be decompressed (${(err as Error).message.split('\n')[0]})`, file);
  }
  if (out.length < clusterSize) {
    throw new Qcow2Error('bad-image', `compressed cluster decompresses to ${out.length} bytes, expected ${clusterSize}`, file);
  }
  return out.length === clusterSize ? out : out.subarray(0, clusterSize);
}

function inflateCluster(input: Uint8Array, clusterSize: number): Uint8Array {
  // A sync flush lets a stream without its final block still yield what it has; the size limit bounds memory.
  try {
    return zlib.inflateRawSync(input, { finishFlush: zlib.constants.Z_SYNC_FLUSH, maxOutputLength: clusterSize });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') throw err;
    throw new Error('data decompresses to more than one cluster', { cause: err });
  }
}

/**
 * Decodes the frames at the start of `input` until the cluster is full, as QEMU's qcow2_zstd_decompress streams
 * them. The sector-rounded input may end with the next cluster's whole frame: it is never decoded, because each
 * frame is decoded alone with its output capped at the room left in the cluster.
 */
function zstdCluster(input: Uint8Array, clusterSize: number): Uint8Array {
  const frames = zstdFramesPrefix(input);
  let out: Uint8Array | undefined;
  let filled = 0;
  for (let pos = 0; pos < frames.length && filled < clusterSize;) {
    const end = zstdFrameEnd(frames, pos);
    const part = zstdFrame(frames.subarray(pos, end), clusterSize - filled);
    if (filled === 0 && part.length === clusterSize) return part; // QEMU's case: one frame per cluster, no copy
    out ??= new Uint8Array(clusterSize);
    out.set(part, filled);
    filled += part.length;
    pos = end;
  }
  return (out ?? new Uint8Array(0)).subarray(0, filled);
}

/** One zstd frame, decoded into at most `room` bytes; more is an error (QEMU: -EIO). */
function zstdFrame(frame: Uint8Array, room: number): Uint8Array {
  const size = zstdContentSize(frame);
  if (size !== undefined && size > room) throw new Error('data decompresses to more than one cluster');
  if (nativeZstdDecompress) {
    try {
      return nativeZstdDecompress(frame, { maxOutputLength: room });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ERR_BUFFER_TOO_LARGE') throw err;
      throw new Error('data decompresses to more than one cluster', { cause: err });
    }
  }
  // fzstd is ~8x faster allocating its own output, which a declared size that fits the room bounds.
  if (size !== undefined) return fzstdDecompress(frame);
  return fzstdDecompress(frame, new Uint8Array(room));
}

/**
 * The bytes of the zstd frames at the start of `input`, without trailing garbage (fzstd would try to parse it
 * as another frame). Walks frame headers and block headers only.
 */
export function zstdFramesPrefix(input: Uint8Array): Uint8Array {
  let pos = 0;
  let lastGood = 0;
  while (pos + 4 <= input.length) {
    const magic = input[pos] | (input[pos + 1] << 8) | (input[pos + 2] << 16) | (input[pos + 3] << 24);
    if (magic >>> 0 !== 0xfd2fb528) break;
    const end = zstdFrameEnd(input, pos);
    if (end < 0) break;
    pos = lastGood = end;
  }
  if (lastGood === 0) throw new Error('no zstd frame');
  return input.subarray(0, lastGood);
}

/** The content size a zstd frame header declares (QEMU's frames do), or undefined when it declares none. */
export function zstdContentSize(frame: Uint8Array): number | undefined {
  if (frame.length < 6) return undefined;
  const fhd = frame[4];
  const fcsFlag = fhd >>> 6;
  const singleSegment = (fhd >>> 5) & 1;
  if (fcsFlag === 0 && !singleSegment) return undefined;
  const p = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][fhd & 3];
  const bytes = fcsFlag === 0 ? 1 : [0, 2, 4, 8][fcsFlag];
  if (p + bytes > frame.length) return undefined;
  let size = 0;
  for (let i = bytes - 1; i >= 0; i--) size = size * 256 + frame[p + i];
  return fcsFlag === 1 ? size + 256 : size;
}

function zstdFrameEnd(b: Uint8Array, start: number): number {
  let p = start + 4;
  if (p >= b.length) return -1;
  const fhd = b[p++];
  const fcsFlag = fhd >>> 6;
  const singleSegment = (fhd >>> 5) & 1;
  const checksum = (fhd >>> 2) & 1;
  const dictIdFlag = fhd & 3;
  if (!singleSegment) p += 1; // window descriptor
  p += [0, 1, 2, 4][dictIdFlag];
  p += fcsFlag === 0 ? (singleSegment ? 1 : 0) : [0, 2, 4, 8][fcsFlag];
  for (;;) {
    if (p + 3 > b.length) return -1;
    const bh = b[p] | (b[p + 1] << 8) | (b[p + 2] << 16);
    p += 3;
    const last = bh & 1;
    const type = (bh >>> 1) & 3;
    const size = bh >>> 3;
    if (type === 3) return -1;
    p += type === 1 ? 1 : size; // RLE blocks store one byte
    if (p > b.length) return -1;
    if (last) break;
  }
  if (checksum) p += 4;
  return p <= b.length ? p : -1;
}

/** Compresses a cluster for writing; returns null when compression does not save space. */
export function compressCluster(type: number, data: Uint8Array): Uint8Array | null {
  let out: Uint8Array;
  if (type === COMPRESSION_DEFLATE) out = zlib.deflateRawSync(data, { level: 6, windowBits: 12, memLevel: 9 });
  else if (nativeZstdCompress) out = nativeZstdCompress(data);
  else return null; // no zstd encoder on this Node: callers store the cluster uncompressed
  return out.length < data.length ? out : null;
}

/** True when this Node can compress zstd clusters (zlib.zstdCompressSync, Node >= 22.15); zlib always can. */
export function canCompress(type: number): boolean {
  return type === COMPRESSION_DEFLATE || (type === COMPRESSION_ZSTD && nativeZstdCompress !== undefined);
}
