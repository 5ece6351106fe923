/**
 * Creating new qcow2 images, laid out as `qemu-img create` does: header cluster, refcount table,
 * first refcount block, L1 table, then any further refcount blocks the L1 needs. For the common cases
 * (64 KiB clusters, any option) the bytes are identical to qemu-img 7.2's.
 */
import * as nodePath from 'node:path';
import { stat } from 'node:fs/promises';
import { setU32, setU64, alignUp } from './format/bytes';
import { Qcow2Error } from './errors';
import type { Qcow2IoOps } from './io/ops';
import { NodeFileIo } from './io/node';
import {
  AUTOCLEAR_DATA_FILE_RAW,
  COMPAT_LAZY_REFCOUNTS,
  INCOMPAT_COMPRESSION,
  INCOMPAT_DATA_FILE,
  INCOMPAT_EXTL2,
  MAX_L1_BYTES,
  MAX_REFTABLE_BYTES,
  QCOW2_MAGIC,
  V2_HEADER_LENGTH,
} from './format/header';
import { EXT_BACKING_FORMAT, EXT_CRYPTO, EXT_DATA_FILE, EXT_FEATURE_TABLE } from './format/header-extensions';
import { buildLuksArea, luksAreaBytes } from './crypto/luks-create';
import { setRefcount } from './format/refcount-codec';
import { openImage, resolveRelative } from './open';
import { invalid, normalizeCreateOptions, type CreateOptions, type NormalizedCreateOptions } from './create-options';

export { normalizeCreateOptions, type CreateOptions, type NormalizedCreateOptions } from './create-options';

export interface CreateLayout {
  clusterSize: number;
  virtualSize: number;
  l1Size: number;
  l1Offset: number;
  /** First of the preallocated L2 tables (one per L1 entry, consecutive), or 0. */
  l2Offset: number;
  /** Host offset of each L2 table, when preallocated (one per L1 entry); empty otherwise. */
  l2Tables: number[];
  /** Where preallocated L2 entries point: the same offset in a raw data file, or the clusters after each table. */
  dataMap: 'none' | 'identity' | 'inline';
  reftableOffset: number;
  reftableClusters: number;
  /** Host offsets of the refcount blocks, in refcount-table order. */
  refblockOffsets: number[];
  /** The LUKS header and key material (encrypted images): where, and its length (QEMU's payload offset); else 0. */
  luksOffset: number;
  luksLength: number;
  /** Clusters in use: every one of them gets refcount 1. */
  totalClusters: number;
  /** File length once written (the L1 table is not padded to a cluster, as in QEMU). */
  fileSize: number;
}

const FEATURE_NAMES: Array<[number, number, string]> = [
  [0, 0, 'dirty bit'],
  [0, 1, 'corrupt bit'],
  [0, 2, 'external data file'],
  [0, 3, 'compression type'],
  [0, 4, 'extended L2 entries'],
  [1, 0, 'lazy refcounts'],
  [2, 0, 'bitmaps'],
  [2, 1, 'raw external data'],
];
const V3_HEADER_LENGTH = 112;

/**
 * Works out where the tables go. Grows the refcount table until it can describe every cluster.
 * `dataMap` 'identity' preallocates every L2 table right after the L1 (for raw external data files);
 * 'inline' preallocates each L2 table followed by the data clusters it maps, as QEMU's preallocation=metadata.
 */
export function planLayout(
  virtualSize: number,
  clusterSize: number,
  refcountBits: number,
  extendedL2: boolean,
  file = 'image',
  dataMap: CreateLayout['dataMap'] = 'none',
  luksLength = 0,
): CreateLayout {
  const l2Entries = clusterSize / (extendedL2 ? 16 : 8);
  const l1Size = Math.ceil(virtualSize / (clusterSize * l2Entries));
  if (l1Size * 8 > MAX_L1_BYTES) throw invalid(file, 'image size is too large for this cluster size (try a larger cluster size)');
  const l1Clusters = Math.ceil((l1Size * 8) / clusterSize);
  const guestClusters = Math.ceil(virtualSize / clusterSize);
  const preallocated = dataMap === 'none' ? 0 : l1Size + (dataMap === 'inline' ? guestClusters : 0);
  // The LUKS area follows the L1 table (and any preallocated clusters), as in QEMU.
  const luksClusters = Math.ceil(luksLength / clusterSize);
  const refblockEntries = (clusterSize * 8) / refcountBits;
  let reftableClusters = 1;
  let extraRefblocks = 0;
  for (;;) {
    const total = 2 + reftableClusters + l1Clusters + preallocated + luksClusters + extraRefblocks;
    const needed = Math.ceil(total / refblockEntries);
    if (needed > 1 + extraRefblocks) extraRefblocks = needed - 1;
    else if (needed > (reftableClusters * clusterSize) / 8) reftableClusters++;
    else break;
  }
  if (reftableClusters * clusterSize > MAX_REFTABLE_BYTES) throw invalid(file, 'image size is too large for this cluster size and refcount width');
  const reftableOffset = clusterSize;
  const firstRefblock = (1 + reftableClusters) * clusterSize;
  const l1Offset = l1Size > 0 ? firstRefblock + clusterSize : 0;
  const l2Offset = (2 + reftableClusters + l1Clusters) * clusterSize;
  const l2Tables: number[] = [];
  for (let t = 0, at = l2Offset; dataMap !== 'none' && t < l1Size; t++) {
    l2Tables.push(at);
    at += clusterSize * (1 + (dataMap === 'inline' ? Math.min(l2Entries, guestClusters - t * l2Entries) : 0));
  }
  const afterL2 = l2Offset + preallocated * clusterSize;
  const afterLuks = afterL2 + luksClusters * clusterSize;
  const refblockOffsets = [firstRefblock];
  for (let i = 0; i < extraRefblocks; i++) refblockOffsets.push(afterLuks + i * clusterSize);
  const totalClusters = 2 + reftableClusters + l1Clusters + preallocated + luksClusters + extraRefblocks;
  let fileSize = extraRefblocks > 0 || preallocated > 0 || luksClusters > 0 ? totalClusters * clusterSize : l1Size > 0 ? l1Offset + l1Size * 8 : l2Offset;
  // QEMU ends a preallocated file at the end of the last data cluster, or with extended L2 at the end of the
  // last subcluster the guest disk reaches.
  if (dataMap === 'inline' && extraRefblocks === 0 && guestClusters > 0) {
    fileSize -= guestClusters * clusterSize - alignUp(virtualSize, extendedL2 ? clusterSize / 32 : clusterSize);
  }
  return {
    clusterSize,
    virtualSize,
    l1Size,
    l1Offset,
    l2Offset: preallocated > 0 ? l2Offset : 0,
    l2Tables,
    dataMap,
    reftableOffset,
    reftableClusters,
    refblockOffsets,
    luksOffset: luksClusters > 0 ? afterL2 : 0,
    luksLength,
    totalClusters,
    fileSize,
  };
}

/** Builds cluster 0: header fields, header extensions, backing file name. */
export function buildHeaderCluster(o: NormalizedCreateOptions, layout: CreateLayout, file = 'image'): Uint8Array {
  const cs = layout.clusterSize;
  const b = new Uint8Array(cs);
  const v3 = o.compat === '1.1';
  setU32(b, 0, QCOW2_MAGIC);
  setU32(b, 4, v3 ? 3 : 2);
  setU32(b, 20, Math.log2(cs));
  if (o.encrypt) setU32(b, 32, 2); // crypt_method: LUKS
  setU64(b, 24, layout.virtualSize);
  setU32(b, 36, layout.l1Size);
  setU64(b, 40, layout.l1Offset);
  setU64(b, 48, layout.reftableOffset);
  setU32(b, 56, layout.reftableClusters);
  let pos = V2_HEADER_LENGTH;
  if (v3) {
    let incompat = 0;
    if (o.dataFile !== undefined) incompat |= INCOMPAT_DATA_FILE;
    if (o.compressionType === 'zstd') incompat |= INCOMPAT_COMPRESSION;
    if (o.extendedL2) incompat |= INCOMPAT_EXTL2;
    setU32(b, 76, incompat);
    setU32(b, 84, o.lazyRefcounts ? COMPAT_LAZY_REFCOUNTS : 0);
    setU32(b, 92, o.dataFileRaw ? AUTOCLEAR_DATA_FILE_RAW : 0);
    setU32(b, 96, Math.log2(o.refcountBits));
    setU32(b, 100, V3_HEADER_LENGTH);
    b[104] = o.compressionType === 'zstd' ? 1 : 0;
    pos = V3_HEADER_LENGTH;
  }
  const enc = new TextEncoder();
  const ext = (type: number, data: Uint8Array): void => {
    const padded = alignUp(data.length, 8);
    if (pos + 8 + padded + 8 > cs) throw invalid(file, 'header extensions and backing file name do not fit in the first cluster (use a larger cluster size)');
    setU32(b, pos, type);
    setU32(b, pos + 4, data.length);
    b.set(data, pos + 8);
    pos += 8 + padded;
  };
  if (o.backingFile !== undefined && o.backingFormat !== undefined) ext(EXT_BACKING_FORMAT, enc.encode(o.backingFormat));
  if (o.dataFile !== undefined) ext(EXT_DATA_FILE, enc.encode(o.dataFile));
  if (layout.luksLength > 0) {
    const pointer = new Uint8Array(16);
    setU64(pointer, 0, layout.luksOffset);
    setU64(pointer, 8, layout.luksLength);
    ext(EXT_CRYPTO, pointer);
  }
  // QEMU leaves the feature name table out of small header clusters.
  if (v3 && cs > 4096) {
    const table = new Uint8Array(FEATURE_NAMES.length * 48);
    FEATURE_NAMES.forEach(([type, bit, name], i) => {
      table[i * 48] = type;
      table[i * 48 + 1] = bit;
      table.set(enc.encode(name), i * 48 + 2);
    });
    ext(EXT_FEATURE_TABLE, table);
  }
  pos += 8; // end-of-extensions marker: type 0, length 0
  if (o.backingFile !== undefined) {
    const name = enc.encode(o.backingFile);
    if (pos + name.length > cs) throw invalid(file, 'backing file name does not fit in the first cluster (use a larger cluster size)');
    setU64(b, 8, pos);
    setU32(b, 16, name.length);
    b.set(name, pos);
  }
  return b;
}

/** Validates the options and computes layout and header, without touching any file. */
export function prepareImage(opts: CreateOptions, file: string): { o: NormalizedCreateOptions; layout: CreateLayout; header: Uint8Array } {
  const o = normalizeCreateOptions(opts, file);
  // A raw data file is the guest disk itself: every cluster maps to the same offset there, from the start.
  const dataMap = o.dataFileRaw ? 'identity' : o.preallocation === 'metadata' ? 'inline' : 'none';
  const layout = planLayout(o.size, o.clusterSize, o.refcountBits, o.extendedL2, file, dataMap, o.encrypt ? luksAreaBytes(o.encrypt) : 0);
  return { o, layout, header: buildHeaderCluster(o, layout, file) };
}

/** Writes a new, empty image through `io` (which should be empty). Metadata first, header last, synced. */
export async function writeNewImage(io: Qcow2IoOps, opts: CreateOptions): Promise<CreateLayout> {
  const { o, layout, header } = prepareImage(opts, io.path);
  const cs = layout.clusterSize;

  const reftable = new Uint8Array(layout.reftableClusters * cs);
  layout.refblockOffsets.forEach((off, i) => setU64(reftable, i * 8, off));
  const refblockEntries = (cs * 8) / o.refcountBits;
  // Refcount blocks: all clusters up to totalClusters have refcount 1.
  for (let i = 0; i < layout.refblockOffsets.length; i++) {
    const block = new Uint8Array(cs);
    const first = i * refblockEntries;
    const n = Math.min(refblockEntries, layout.totalClusters - first);
    for (let j = 0; j < n; j++) setRefcount(block, j, o.refcountBits, 1);
    await io.writeAt(block, layout.refblockOffsets[i]);
  }
  await io.writeAt(reftable, layout.reftableOffset);
  if (layout.l2Tables.length > 0) await writePreallocatedL2(io, layout, o.extendedL2);
  if (o.encrypt) {
    // The whole area in clusters: key slots not in use stay zero, as QEMU leaves them.
    const area = new Uint8Array(alignUp(layout.luksLength, cs));
    area.set(await buildLuksArea(o.encrypt));
    await io.writeAt(area, layout.luksOffset);
  }
  // The L1 table, written in bounded chunks: zeros, or pointers to the preallocated L2 tables.
  const l1Bytes = layout.l1Size * 8;
  const chunk = new Uint8Array(Math.min(l1Bytes, 1024 * 1024));
  for (let done = 0; done < l1Bytes; done += chunk.length) {
    const n = Math.min(chunk.length, l1Bytes - done);
    for (let i = 0; i < n / 8 && layout.l2Tables.length > 0; i++) setEntry(chunk, i * 8, layout.l2Tables[done / 8 + i]);
    await io.writeAt(chunk.subarray(0, n), layout.l1Offset + done);
  }
  // Extend to the full length; truncate keeps preallocated data clusters sparse (holes read as zeros).
  if ((await io.size()) < layout.fileSize) {
    if (io.truncate) await io.truncate(layout.fileSize);
    else await io.writeAt(new Uint8Array(1), layout.fileSize - 1);
  }
  await io.fsync();
  await io.writeAt(header, 0);
  await io.fsync();
  return layout;
}

/** An L1 or standard L2 entry with COPIED set. */
function setEntry(b: Uint8Array, at: number, offset: number): void {
  setU64(b, at, offset);
  b[at] |= 0x80;
}

/** Preallocated L2 tables: each guest cluster maps to the same offset in a raw data file, or to its own cluster. */
async function writePreallocatedL2(io: Qcow2IoOps, layout: CreateLayout, extendedL2: boolean): Promise<void> {
  const cs = layout.clusterSize;
  const entryBytes = extendedL2 ? 16 : 8;
  const entries = cs / entryBytes;
  const guestClusters = Math.ceil(layout.virtualSize / cs);
  const table = new Uint8Array(cs);
  for (let t = 0; t < layout.l1Size; t++) {
    table.fill(0);
    const at = layout.l2Tables[t];
    for (let i = 0; i < entries && t * entries + i < guestClusters; i++) {
      const host = layout.dataMap === 'identity' ? (t * entries + i) * cs : at + (1 + i) * cs;
      // Subcluster bitmaps stay clear, as QEMU leaves them; the preallocated clusters are sparse (read as zeros).
      setEntry(table, i * entryBytes, host);
    }
    await io.writeAt(table, at);
  }
}

/** Virtual size of a backing file, opening it as `format` (qcow2 or raw) relative to the new image. */
export async function backingVirtualSize(imagePath: string, backingFile: string, format: string): Promise<number> {
  const path = resolveRelative(imagePath, backingFile);
  if (format === 'raw') {
    const io = await NodeFileIo.open(path, true).catch((err: Qcow2Error) => {
      throw new Qcow2Error('backing', `cannot open backing file ${path}: ${err.reason}`, imagePath);
    });
    try {
      return await io.size();
    } finally {
      await io.close();
    }
  }
  if (format !== 'qcow2') throw new Qcow2Error('unsupported', `backing format '${format}' is not supported (only qcow2 and raw)`, imagePath);
  const dev = await openImage(path, { readOnly: true }).catch((err: Qcow2Error) => {
    throw new Qcow2Error('backing', `cannot open backing file ${path}: ${err.reason ?? err.message}`, imagePath);
  });
  try {
    return dev.virtualSize;
  } finally {
    await dev.close();
  }
}

/** Device and inode of an existing file (so links and other spellings compare equal), or undefined. */
async function sameFileKey(path: string): Promise<string | undefined> {
  try {
    const st = await stat(path);
    return `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/**
 * Creates an image file (replacing any file at `path`, as qemu-img does). With a backing file, the backing file
 * must open in the given format; `size` undefined takes its virtual size. An external data file is created
 * (or replaced) sparse at the virtual size, as qemu-img does; its name is relative to the image's folder.
 */
export async function createImage(path: string, opts: Omit<CreateOptions, 'size'> & { size?: number }): Promise<CreateLayout> {
  let size = opts.size;
  normalizeCreateOptions({ ...opts, size: size ?? 0 }, path); // option errors first, before opening the backing file
  // Creating truncates the file: never let that be the backing file or the data file.
  const self = await sameFileKey(path);
  if (opts.backingFile !== undefined && self !== undefined && (await sameFileKey(resolveRelative(path, opts.backingFile))) === self) {
    throw invalid(path, 'the image would overwrite its own backing file');
  }
  if (opts.dataFile !== undefined && nodePath.resolve(nodePath.dirname(path), opts.dataFile) === nodePath.resolve(path)) {
    throw invalid(path, 'the image and its data file must be different files');
  }
  if (opts.dataFile !== undefined && self !== undefined && (await sameFileKey(nodePath.resolve(nodePath.dirname(path), opts.dataFile))) === self) {
    throw invalid(path, 'the image and its data file must be different files');
  }
  if (opts.backingFile !== undefined && opts.backingFormat !== undefined) {
    const backingSize = await backingVirtualSize(path, opts.backingFile, opts.backingFormat);
    size ??= backingSize;
  }
  if (size === undefined) throw invalid(path, 'image size is required without a backing file');
  const full: CreateOptions = { ...opts, size };
  prepareImage(full, path); // refuse bad options before touching any file
  if (opts.dataFile !== undefined) {
    const dataPath = nodePath.resolve(nodePath.dirname(path), opts.dataFile);
    const dio = await NodeFileIo.create(dataPath);
    try {
      await dio.truncate(alignUp(size, 512));
      await dio.fsync();
    } finally {
      await dio.close();
    }
  }
  const io = await NodeFileIo.create(path);
  try {
    return await writeNewImage(io, full);
  } finally {
    await io.close();
  }
}
