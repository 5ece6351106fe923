/**
 * Can the backing chain of an image be opened? Walks it header by header (nothing but each header cluster is read)
 * and answers with qemu-img's one-line message for the first layer that cannot be opened: a missing file, a loop
 * (where qemu-img hangs, this stops at the first repeated file), an unknown format, a header that is not qcow2.
 * `check` refuses such an image as qemu-img does; the editor shows the message above the image's own verdict.
 */
import { open, realpath } from 'node:fs/promises';
import * as nodePath from 'node:path';
import { parseHeader, QCOW2_MAGIC } from './format/header';
import { readFully } from './io/ops';
import { NodeFileIo } from './io/node';
import { qemuPathCombine } from './read/map';
import { MAX_CHAIN_DEPTH, resolveRelative } from './open';
import { asQcow2Error } from './errors';
import { u32 } from './format/bytes';

export type BrokenChainKind = 'missing' | 'loop' | 'format' | 'unreadable' | 'too-deep';

export interface BrokenChain {
  kind: BrokenChainKind;
  /** The layer that cannot be opened, as qemu-img names it (the backing name joined to its image's folder). */
  layer: string;
  /** 1 for the image's own backing file, 2 for the next one, … */
  depth: number;
  /** qemu-img's message: Could not open 'IMAGE': Could not open backing file: … */
  message: string;
}

/** The first layer of `image`'s backing chain that cannot be opened, or undefined when the whole chain opens. */
export async function verifyBackingChain(image: string, allowPath?: (absPath: string) => boolean): Promise<BrokenChain | undefined> {
  const seen = new Set<string>([await realpath(image).catch(() => image)]);
  let current = image;
  for (let depth = 1; ; depth++) {
    const header = await readHeader(current);
    if (typeof header === 'string') {
      // The image itself is for check to judge; a layer below it breaks the chain.
      if (depth === 1) return undefined;
      return broken('unreadable', current, depth - 1, header);
    }
    const name = header.backingFile;
    if (name === undefined || name === '') return undefined;
    const layer = qemuPathCombine(current, name);
    if (name.startsWith('json:')) return broken('format', layer, depth, `json: backing file names are not supported`);
    // A layer the caller may not open (outside an untrusted workspace) is not followed; that is not a break.
    if (allowPath && !allowPath(nodePath.resolve(layer))) return undefined;
    if (depth > MAX_CHAIN_DEPTH) return broken('too-deep', layer, depth, `the backing chain is deeper than ${MAX_CHAIN_DEPTH} layers`);
    let real: string;
    try {
      real = await realpath(layer);
    } catch (err) {
      return broken('missing', layer, depth, `Could not open '${layer}': ${errnoText(err)}`);
    }
    if (seen.has(real)) return broken('loop', layer, depth, `Could not open '${layer}': the backing chain loops back to this file`);
    seen.add(real);
    let format = header.extensions.backingFormat;
    if (format === undefined) format = (await isQcow2(layer)) ? 'qcow2' : 'raw';
    if (format === 'raw') return undefined;
    if (format !== 'qcow2') return broken('format', layer, depth, `Unknown driver '${format}'`);
    current = layer;
  }

  function broken(kind: BrokenChainKind, layer: string, depth: number, reason: string): BrokenChain {
    return { kind, layer, depth, message: `Could not open '${image}': ${'Could not open backing file: '.repeat(depth)}${reason}` };
  }
}

function errnoText(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'No such file or directory';
  if (code === 'EACCES') return 'Permission denied';
  return asQcow2Error(err).reason;
}

/**
 * qemu-img check (unlike info) opens an image's external data file: the message qemu-img gives when that fails
 * ("Could not open 'DATA': No such file or directory"), or undefined when it opens or there is none.
 */
export async function probeDataFile(image: string, hasDataFile: boolean, dataFileName: string | undefined): Promise<string | undefined> {
  if (!hasDataFile || dataFileName === undefined) return undefined;
  const dataPath = resolveRelative(image, dataFileName);
  try {
    await (await open(dataPath, 'r')).close();
    return undefined;
  } catch (err) {
    return `Could not open '${dataPath}': ${errnoText(err)}`;
  }
}

/** The parsed header of a qcow2 file, or qemu-img's reason why it cannot be opened as one. */
async function readHeader(path: string): Promise<ReturnType<typeof parseHeader> | string> {
  let io: NodeFileIo;
  try {
    io = await NodeFileIo.open(path, true);
  } catch (err) {
    return `Could not open '${path}': ${errnoText(err)}`;
  }
  try {
    const size = await io.size();
    const first = new Uint8Array(Math.min(size, 4096));
    await readFully(io, first, 0);
    if (first.length < 4 || u32(first, 0) !== QCOW2_MAGIC) return 'Image is not in qcow2 format';
    const bits = first.length >= 24 ? u32(first, 20) : 0;
    let cluster = first;
    if (bits >= 9 && bits <= 21 && 2 ** bits > first.length && size > first.length) {
      cluster = new Uint8Array(Math.min(size, 2 ** bits));
      await readFully(io, cluster, 0);
    }
    return parseHeader(cluster, path, size);
  } catch (err) {
    return asQcow2Error(err, path).reason;
  } finally {
    await io.close();
  }
}

async function isQcow2(path: string): Promise<boolean> {
  const io = await NodeFileIo.open(path, true).catch(() => undefined);
  if (!io) return false;
  try {
    const magic = new Uint8Array(4);
    return (await readFully(io, magic, 0)) === 4 && u32(magic, 0) === QCOW2_MAGIC;
  } finally {
    await io.close();
  }
}
