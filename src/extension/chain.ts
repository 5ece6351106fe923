/**
 * Describes a backing chain header by header, so that a missing file, a loop or an untrusted path shows as an
 * error on that layer instead of failing the whole editor. Opens each file read-only and briefly.
 */
import * as nodePath from 'node:path';
import { realpath } from 'node:fs/promises';
import { NodeFileIo, Qcow2Dev, QCOW2_MAGIC, readFully, resolveRelative, MAX_CHAIN_DEPTH, asQcow2Error, type Qcow2IoOps } from '../qcow2';
import type { ChainLayerInfo } from '../shared/protocol';

export interface ChainOptions {
  allowPath?: (absPath: string, role: 'backing' | 'data-file') => boolean;
  maxDepth?: number;
  /** Measure each layer's allocated share (walks its L2 tables); stops a layer's walk after this many ms. */
  allocationBudgetMs?: number;
  openIo?: (path: string) => Promise<Qcow2IoOps>;
}

const openDefault = (p: string): Promise<Qcow2IoOps> => NodeFileIo.open(p, true);

export async function describeChain(topPath: string, opts: ChainOptions = {}): Promise<ChainLayerInfo[]> {
  const openIo = opts.openIo ?? openDefault;
  const maxDepth = opts.maxDepth ?? MAX_CHAIN_DEPTH;
  const layers: ChainLayerInfo[] = [];
  const seen = new Set<string>();
  let path = nodePath.resolve(topPath);
  let recordedName: string | undefined;
  let format: string | undefined = 'qcow2';
  for (let depth = 0; ; depth++) {
    const layer: ChainLayerInfo = { depth, path, format: 'unknown', ...(recordedName !== undefined ? { recordedName } : {}) };
    layers.push(layer);
    if (depth > maxDepth) return fail(layers, layer, 'depth', `the backing chain is deeper than ${maxDepth} layers`);
    if (depth > 0 && opts.allowPath && !opts.allowPath(path, 'backing')) {
      return fail(layers, layer, 'untrusted', 'not opened: the file is outside the trusted workspace');
    }
    let canonical: string;
    try {
      canonical = await realpath(path);
    } catch {
      return fail(layers, layer, 'missing', 'the file is missing');
    }
    if (seen.has(canonical)) return fail(layers, layer, 'loop', `the backing chain loops back to ${path}`);
    seen.add(canonical);
    let io: Qcow2IoOps;
    try {
      io = await openIo(path);
    } catch (err) {
      return fail(layers, layer, 'unreadable', asQcow2Error(err, path).reason);
    }
    try {
      const magic = new Uint8Array(4);
      const isQcow2 = (await readFully(io, magic, 0)) === 4 && new DataView(magic.buffer).getUint32(0) === QCOW2_MAGIC;
      if (format !== undefined && format !== 'qcow2' && format !== 'raw') {
        return fail(layers, layer, 'unsupported', `backing format '${format}' is not supported`);
      }
      if (format === 'raw' || (format === undefined && !isQcow2)) {
        const size = await io.size();
        Object.assign(layer, { format: 'raw', virtualSize: size, allocatedBytes: size, shareAllocated: size > 0 ? 1 : 0 });
        return layers;
      }
      // allowLocked: an encrypted layer's header and tables need no key (its guest data is not read here).
      const dev = await Qcow2Dev.fromIo(io, { readOnly: true, l2CacheSlices: 16, allowLocked: true });
      layer.format = 'qcow2';
      layer.virtualSize = dev.info.virtualSize;
      layer.clusterSize = dev.info.clusterSize;
      if (opts.allocationBudgetMs !== undefined) {
        const allocated = await allocatedBytes(dev, opts.allocationBudgetMs).catch(() => undefined);
        if (allocated !== undefined) {
          layer.allocatedBytes = allocated;
          layer.shareAllocated = dev.info.virtualSize > 0 ? allocated / dev.info.virtualSize : 0;
        }
      }
      const name = dev.header.backingFile;
      if (name === undefined) return layers;
      if (name.startsWith('json:')) {
        layers.push({
          depth: depth + 1,
          path: name,
          recordedName: name,
          format: 'unknown',
          error: 'json: backing file names are not supported',
          errorKind: 'unsupported',
        });
        return layers;
      }
      recordedName = name;
      format = dev.header.extensions.backingFormat;
      path = resolveRelative(path, name);
    } catch (err) {
      return fail(layers, layer, 'unreadable', asQcow2Error(err, path).reason);
    } finally {
      await io.close().catch(() => undefined);
    }
  }
}

function fail(layers: ChainLayerInfo[], layer: ChainLayerInfo, kind: NonNullable<ChainLayerInfo['errorKind']>, message: string): ChainLayerInfo[] {
  layer.errorKind = kind;
  layer.error = message;
  return layers;
}

/** Bytes of the guest range this layer alone maps (anything not unallocated); undefined past the budget. */
export async function allocatedBytes(dev: Qcow2Dev, budgetMs: number): Promise<number | undefined> {
  const deadline = Date.now() + budgetMs;
  const size = dev.info.virtualSize;
  let total = 0;
  for (let off = 0; off < size;) {
    const run = await dev.blockStatus(off, size - off);
    if (run.kind !== 'unallocated') total += run.length;
    off += run.length;
    if (Date.now() > deadline) return undefined;
  }
  return total;
}
