/**
 * What the fuzz target does with an image once it opens: the read-side paths of the CLI and the extension.
 * Each stage is bounded in work (a few hundred runs, a few MiB read) so a slow input means a real hang.
 * Stages for check, clusterUsage and the write workload are added as those engine parts land.
 */
import type { Qcow2Dev } from '../../src/qcow2/qcow2-dev';
import { FuzzFinding } from './finding';

export interface FuzzStage {
  name: string;
  run(dev: Qcow2Dev, bytes: Uint8Array): Promise<void>;
}

const MAX_RUNS = 512;
const MAX_READ = 64 * 1024;

/** Deterministic per input, so a crash reproduces from the input alone. */
export function prng(bytes: Uint8Array): () => number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i += Math.max(1, bytes.length >> 10)) h = Math.imul(h ^ bytes[i], 0x01000193);
  let s = (h ^ bytes.length) >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 0x1_0000_0000;
  };
}

/** Touches everything `info` prints: header fields, extensions, snapshots, bitmaps. */
const infoStage: FuzzStage = {
  name: 'info',
  async run(dev) {
    const parts: unknown[] = [dev.info, dev.header.backingFile, dev.header.extensions.featureNames, dev.header.extensions.unknown.length];
    for (const s of dev.snapshots) parts.push(s.id, s.name, s.l1Size, s.diskSize);
    for (const b of dev.bitmaps) parts.push(b.name, b.flagNames, b.granularityBits);
    JSON.stringify(parts);
  },
};

/** Walks the mapping from 0 as `map` does; every answer must make progress and stay inside the disk. */
const mapStage: FuzzStage = {
  name: 'map',
  async run(dev) {
    let off = 0;
    for (let i = 0; i < MAX_RUNS && off < dev.virtualSize; i++) {
      const m = await dev.getMapping(off);
      if (!(m.length > 0) || off + m.length > dev.virtualSize) {
        throw new FuzzFinding(`getMapping(${off}) returned length ${m.length} (virtual size ${dev.virtualSize})`);
      }
      off += m.length;
    }
  },
};

/** Reads the start of the first runs and a few random places, as the hex view does. */
const readStage: FuzzStage = {
  name: 'read',
  async run(dev, bytes) {
    const size = dev.virtualSize;
    if (size === 0) return;
    const rand = prng(bytes);
    const buf = new Uint8Array(MAX_READ);
    let off = 0;
    for (let i = 0; i < 8 && off < size; i++) {
      const m = await dev.getMapping(off);
      const n = Math.min(m.length, MAX_READ);
      await dev.readAt(buf.subarray(0, n), off);
      off += m.length;
    }
    for (let i = 0; i < 16; i++) {
      const len = 1 + Math.floor(rand() * 8192);
      const at = Math.floor(rand() * Math.max(0, size - len));
      await dev.readAt(buf.subarray(0, Math.min(len, size - at)), at);
    }
  },
};

export const stages: FuzzStage[] = [infoStage, mapStage, readStage];
