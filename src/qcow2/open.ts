import * as nodePath from 'node:path';
import { realpath } from 'node:fs/promises';
import { Qcow2Error, asQcow2Error } from './errors';
import { readFully, type Qcow2IoOps } from './io/ops';
import { NodeFileIo } from './io/node';
import { QCOW2_MAGIC } from './format/header';
import { u32 } from './format/bytes';
import { Qcow2Dev, type Qcow2DevParams } from './qcow2-dev';
import { RawDev } from './raw-dev';
import type { BlockLayer } from './layer';
import type { EncryptionKey } from './crypto/image-crypto';

export const MAX_CHAIN_DEPTH = 64;

export interface OpenOptions extends Qcow2DevParams {
  /** Open the backing chain (default true). Without it, unallocated clusters read as zeros. */
  openBacking?: boolean;
  maxChainDepth?: number;
  /** Decides whether a backing or data file may be opened (untrusted workspaces say no outside the workspace). */
  allowPath?: (absPath: string, role: 'backing' | 'data-file') => boolean;
  /** How files are opened; tests pass in-memory or fault-injecting I/O. */
  openIo?: (path: string, readOnly: boolean) => Promise<Qcow2IoOps>;
  /**
   * The key of each encrypted layer, by its path as opened (backing paths resolved); `encryptionKey`, when given,
   * is the top image's. Layers without a key that are encrypted are refused.
   */
  secretFor?: (path: string) => EncryptionKey | undefined;
}

const defaultOpenIo = (path: string, readOnly: boolean): Promise<Qcow2IoOps> => NodeFileIo.open(path, readOnly);

/** Resolves a backing or data file name as QEMU does for backing files: relative to the image's folder. */
export function resolveRelative(imagePath: string, name: string): string {
  if (name.startsWith('json:')) return name;
  return nodePath.resolve(nodePath.dirname(imagePath), name);
}

/** Opens a qcow2 image with its external data file and backing chain, and loads its tables. */
export async function openImage(path: string, opts: OpenOptions = {}): Promise<Qcow2Dev> {
  return openQcow2(path, opts, opts.readOnly ?? false, [], 0);
}

async function openQcow2(path: string, opts: OpenOptions, readOnly: boolean, seen: string[], depth: number): Promise<Qcow2Dev> {
  const openIo = opts.openIo ?? defaultOpenIo;
  const io = await openIo(path, readOnly);
  let dev: Qcow2Dev | undefined;
  try {
    const encryptionKey = (depth === 0 ? opts.encryptionKey : undefined) ?? opts.secretFor?.(path);
    dev = await Qcow2Dev.fromIo(io, { ...opts, readOnly, encryptionKey });
    await dev.prepIo();
    const ext = dev.header.extensions;
    if (dev.info.hasDataFile && ext.dataFile !== undefined) {
      const dataPath = resolveRelative(path, ext.dataFile);
      if (opts.allowPath && !opts.allowPath(dataPath, 'data-file')) {
        throw new Qcow2Error('backing', `external data file ${dataPath} is outside the trusted workspace`, path);
      }
      try {
        dev.dataIo = await openIo(dataPath, readOnly);
      } catch (err) {
        const reason = `cannot open external data file ${dataPath}: ${asQcow2Error(err).reason}`;
        if (!opts.dataFileOptional) throw new Qcow2Error('backing', reason, path);
        dev.dataFileError = reason;
      }
    }
    if (dev.header.backingFile !== undefined && opts.openBacking !== false) {
      const chainSeen = [...seen, await canonical(path)];
      await attachBacking(dev, opts, chainSeen, depth + 1);
    }
    return dev;
  } catch (err) {
    if (dev) await dev.close().catch(() => undefined);
    else await io.close().catch(() => undefined);
    throw asQcow2Error(err, path);
  }
}

async function attachBacking(dev: Qcow2Dev, opts: OpenOptions, seen: string[], depth: number): Promise<void> {
  const name = dev.header.backingFile!;
  const backingPath = resolveRelative(dev.path, name);
  const max = opts.maxChainDepth ?? MAX_CHAIN_DEPTH;
  if (name.startsWith('json:')) throw new Qcow2Error('unsupported', `json: backing file names are not supported (${name.slice(0, 60)})`, dev.path);
  if (depth > max) throw new Qcow2Error('backing', `backing chain is deeper than ${max} layers`, dev.path);
  if (opts.allowPath && !opts.allowPath(backingPath, 'backing')) {
    throw new Qcow2Error('backing', `backing file ${backingPath} is outside the trusted workspace`, dev.path);
  }
  let canonicalPath: string;
  try {
    canonicalPath = await canonical(backingPath);
  } catch {
    throw new Qcow2Error('backing', `backing file ${backingPath} is missing`, dev.path);
  }
  if (seen.includes(canonicalPath)) throw new Qcow2Error('backing', `backing chain loops back to ${backingPath}`, dev.path);
  let format = dev.header.extensions.backingFormat;
  if (format === undefined) {
    format = (await probeIsQcow2(backingPath, opts)) ? 'qcow2' : 'raw';
    dev.backingFormatProbed = true;
  }
  let layer: BlockLayer;
  if (format === 'qcow2') layer = await openQcow2(backingPath, opts, true, seen, depth);
  else if (format === 'raw') layer = await RawDev.open(await (opts.openIo ?? defaultOpenIo)(backingPath, true));
  else throw new Qcow2Error('unsupported', `backing file format '${format}' is not supported (only qcow2 and raw)`, dev.path);
  dev.setBackingDev(layer);
}

async function canonical(p: string): Promise<string> {
  return realpath(p).catch((err) => {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw err;
    return nodePath.resolve(p); // in-memory test paths
  });
}

async function probeIsQcow2(path: string, opts: OpenOptions): Promise<boolean> {
  const io = await (opts.openIo ?? defaultOpenIo)(path, true);
  try {
    const magic = new Uint8Array(4);
    return (await readFully(io, magic, 0)) === 4 && u32(magic, 0) === QCOW2_MAGIC;
  } finally {
    await io.close();
  }
}
