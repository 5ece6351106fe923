/**
 * What the fuzz target does with an image once it opens: the paths of the CLI and the extension (info, map,
 * read, check, a short write workload). Each stage is bounded in work (a few hundred runs, a few MiB read)
 * so a slow input means a real hang.
 */
import { rebaseUnsafe } from '../../src/qcow2/write/rebase';
import { parseHeader } from '../../src/qcow2/format/header';
import { mapEntries } from '../../src/qcow2/read/map';
import { dirtyRanges } from '../../src/qcow2/read/bitmap-ranges';
import { checkImage } from '../../src/qcow2/check/check';
import { devForCheck } from '../../src/qcow2/check/open-for-check';
import { clusterUsage } from '../../src/qcow2/check/usage';
import { compilePattern, PatternError, searchDisk, type PatternMode } from '../../src/search';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { main as cliMain } from '../../src/cli/cli';
import { FuzzFinding, expectEngineError } from './finding';
import { guestFsStage } from './guestfs-stage';
import { historyStage } from './history-stage';
import { assertWritesMarked } from './bitmap-marks';
import type { FuzzStage, StageContext } from './stage-types';
import { BoundedMemIo, openFuzzIo, ReadOnlyGuardIo, FUZZ_PATH } from './fuzz-io';

export type { FuzzStage, StageContext };

const MAX_RUNS = 512;
const MAX_READ = 64 * 1024;
/** A short write workload may grow the file by this much at most (data, L2 tables, refcount blocks, a new reftable). */
const WRITE_GROWTH = 16 * 1024 * 1024;

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
  async run({ dev }) {
    const parts: unknown[] = [dev.info, dev.header.backingFile, dev.header.extensions.featureNames, dev.header.extensions.unknown.length];
    for (const s of dev.snapshots) parts.push(s.id, s.name, s.l1Size, s.diskSize);
    for (const b of dev.bitmaps) parts.push(b.name, b.flagNames, b.granularityBits);
    JSON.stringify(parts);
  },
};

/** Decodes every bitmap's dirty ranges (bitmap --dump): in order, inside the disk, bounded in count. */
const bitmapStage: FuzzStage = {
  name: 'bitmap-dump',
  async run({ dev }) {
    // A table's length follows the disk size (checked by the decoder); a few thousand entries bound the work here.
    for (const bm of dev.bitmaps.slice(0, 4).filter((b) => b.tableSize <= 4096)) {
      let end = 0;
      let n = 0;
      try {
        for await (const r of dirtyRanges({ io: dev.io, clusterSize: dev.info.clusterSize, virtualSize: dev.virtualSize, fileSize: dev.fileSize }, bm)) {
          if (!(r.length > 0) || r.start < end || r.start + r.length > dev.virtualSize) throw new FuzzFinding(`bitmap range ${JSON.stringify(r)} after ${end}`);
          end = r.start + r.length;
          if (++n >= MAX_RUNS) break;
        }
      } catch (err) {
        expectEngineError(err, 'bitmap-dump');
      }
    }
  },
};

/** Walks the mapping from 0 as `getMapping` callers do; every answer must make progress and stay inside the disk. */
const mappingStage: FuzzStage = {
  name: 'getMapping',
  async run({ dev }) {
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

/** The `map` command's entries: contiguous, in order, covering the disk. */
const mapStage: FuzzStage = {
  name: 'map',
  async run({ dev }) {
    let end = 0;
    let n = 0;
    for await (const e of mapEntries(dev)) {
      if (e.start !== end || !(e.length > 0 || dev.virtualSize === 0)) throw new FuzzFinding(`map entry ${JSON.stringify(e)} does not follow ${end}`);
      end = e.start + e.length;
      if (++n >= MAX_RUNS) return;
    }
    if (end !== dev.virtualSize) throw new FuzzFinding(`map ends at ${end}, virtual size ${dev.virtualSize}`);
  },
};

/** Reads the start of the first runs and a few random places, as the hex view does. */
const readStage: FuzzStage = {
  name: 'read',
  async run({ dev, bytes }) {
    const size = dev.virtualSize;
    if (size === 0) return;
    const rand = prng(bytes);
    const buf = new Uint8Array(MAX_READ);
    let off = 0;
    for (let i = 0; i < 8 && off < size; i++) {
      const m = await dev.getMapping(off);
      await dev.readAt(buf.subarray(0, Math.min(m.length, MAX_READ)), off);
      off += m.length;
    }
    for (let i = 0; i < 16; i++) {
      const len = 1 + Math.floor(rand() * 8192);
      const at = Math.floor(rand() * Math.max(0, size - len));
      await dev.readAt(buf.subarray(0, Math.min(len, size - at)), at);
    }
  },
};

/** A short write workload on a writable copy: non-overlapping writes, flush, close, reopen, read back. */
const writeStage: FuzzStage = {
  name: 'write',
  async run(ctx) {
    const { bytes, checkedClean } = ctx;
    const size = ctx.dev.virtualSize;
    if (size === 0) return;
    const rand = prng(bytes);
    const io = new BoundedMemIo(bytes, FUZZ_PATH, bytes.length + WRITE_GROWTH);
    const writes: { at: number; data: Uint8Array }[] = [];
    const slot = Math.floor(size / 4);
    let dev = await openFuzzIo(io, true);
    const autoclearBitmaps = (dev.header.autoclearFeatures.lo & 1) !== 0;
    const enabledBefore = autoclearBitmaps ? dev.bitmaps.filter((b) => b.flagNames.join() === 'auto').map((b) => b.name) : [];
    try {
      for (let i = 0; i < 4 && slot > 0; i++) {
        const len = Math.max(1, Math.min(slot, 1 + Math.floor(rand() * 3 * ctx.dev.info.clusterSize), MAX_READ));
        const at = i * slot + Math.floor(rand() * (slot - len + 1));
        const data = new Uint8Array(len).fill(0xa0 + i);
        data[0] = i;
        await dev.writeAt(data, at);
        writes.push({ at, data });
      }
      await dev.flushMeta();
    } finally {
      await dev.close();
    }
    if (!checkedClean) return;
    // The image was clean: what was written must read back, and it must still check clean.
    dev = await openFuzzIo(io, false);
    try {
      for (const w of writes) {
        const got = new Uint8Array(w.data.length);
        await dev.readAt(got, w.at);
        if (Buffer.compare(got, w.data) !== 0) throw new FuzzFinding(`write of ${w.data.length} bytes at ${w.at} to a clean image does not read back`);
      }
      await assertWritesMarked(dev, enabledBefore, writes);
    } finally {
      await dev.close();
    }
    const after = await checkImage(await devForCheck(io, true));
    if (after.summary.corruptions > 0 || after.failure) {
      throw new FuzzFinding(
        `writes to a clean image left ${after.summary.corruptions} corruption(s)${after.failure ? ` (${after.failure})` : ''}: ${after.findings[0]?.message}`,
      );
    }
  },
};

/** The integrity check (read-only), on its own header-only open, which accepts more images than the normal open. */
export async function checkOnly(bytes: Uint8Array): Promise<boolean> {
  const io = new ReadOnlyGuardIo(bytes, FUZZ_PATH);
  try {
    const res = await checkImage(await devForCheck(io, true), { maxFindings: 100 });
    return res.summary.corruptions === 0 && res.summary.checkErrors === 0 && !res.failure;
  } catch (err) {
    expectEngineError(err, 'check');
    return false;
  }
}

/** Cluster usage (the usage view), on the check's header-only open. */
export async function usageOnly(bytes: Uint8Array): Promise<void> {
  try {
    const u = await clusterUsage(await devForCheck(new ReadOnlyGuardIo(bytes, FUZZ_PATH), true));
    JSON.stringify(u.categories.map((c) => [c.category, c.clusters, c.ranges.length]));
  } catch (err) {
    expectEngineError(err, 'usage');
  }
}

let cliDir: string | undefined;

/**
 * The CLI end to end on a real file: info, check and usage (header-only or chain-free opens, so a fuzzed backing
 * name never makes it open another real file). Each must exit 0..3 (or 63, check's "not a qcow2 image"), failing with exactly one line on
 * stderr that is not an "internal error"; the file must be unchanged.
 */
export async function cliOnly(bytes: Uint8Array): Promise<void> {
  if (!cliDir) {
    const dir = (cliDir = mkdtempSync(join(tmpdir(), 'q2i-fuzz-cli-')));
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  const path = join(cliDir, 'image.qcow2');
  writeFileSync(path, bytes);
  for (const argv of [
    ['info', '--output=json', path],
    ['check', '--output=json', path],
    ['usage', '--output=json', path],
  ]) {
    const out = new PassThrough();
    const err = new PassThrough();
    let stdoutBytes = 0;
    out.on('data', (d: Buffer) => (stdoutBytes += d.length)); // counted and dropped, so large outputs never block
    let stderr = '';
    err.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await cliMain(argv, { stdout: out, stderr: err, stdin: Readable.from([]) });
    const what = `${argv[0]}: exit ${code}, stderr ${JSON.stringify(stderr.slice(0, 300))}`;
    if (/internal error/.test(stderr)) throw new FuzzFinding(`cli ${what}`);
    if (/\n\s+at /.test(stderr)) throw new FuzzFinding(`cli ${what}: stack trace`);
    if (!(code >= 0 && code <= 3) && code !== 63) throw new FuzzFinding(`cli ${what}`); // 63: qemu-img check's "format does not support checks"
    // A command that failed without printing a result ends with exactly one line naming the file and the reason.
    // (check, like qemu-img check, may print its diagnostics first, and exits 1..3 with a report as an outcome.)
    if (code !== 0 && stdoutBytes === 0) {
      const lines = stderr.split('\n');
      const last = lines[lines.length - 2] ?? '';
      // check on a broken backing chain names the image as qemu-img does: Could not open 'PATH': Could not open backing file: …
      const namesFile = last.startsWith(`qcow2-inspector: ${path}: `) || last.startsWith(`qcow2-inspector: Could not open '${path}': `);
      if (!stderr.endsWith('\n') || !namesFile) throw new FuzzFinding(`cli ${what}: no one-line failure`);
      if (argv[0] !== 'check' && lines.length !== 2) throw new FuzzFinding(`cli ${what}: not one line`);
    }
  }
  if (Buffer.compare(readFileSync(path), bytes) !== 0) throw new FuzzFinding('cli: a read-only command changed the file');
}

/** `check -r all` on a writable copy of an image with problems; the repaired image must then check clean of corruption. */
export async function repairOnce(bytes: Uint8Array): Promise<void> {
  const io = new BoundedMemIo(bytes, FUZZ_PATH, bytes.length + WRITE_GROWTH);
  try {
    const res = await checkImage(await devForCheck(io, false), { repair: 'all', maxFindings: 100 });
    if (res.failure) return;
  } catch (err) {
    expectEngineError(err, 'repair');
  }
}

/** `rebase -u` (src/qcow2/rebase.ts) over the image in memory: a Qcow2Error or a header that still parses. */
export async function rebaseOnce(bytes: Uint8Array): Promise<void> {
  const io = new BoundedMemIo(bytes, FUZZ_PATH, bytes.length + WRITE_GROWTH);
  try {
    await rebaseUnsafe(io, 'fuzz-base.raw', 'raw');
  } catch (err) {
    expectEngineError(err, 'rebase');
    return;
  }
  const after = io.bytes();
  try {
    const h = parseHeader(after.subarray(0, Math.min(after.length, 2 * 1024 * 1024)), FUZZ_PATH, after.length);
    if (h.backingFile !== 'fuzz-base.raw' || h.extensions.backingFormat !== 'raw')
      throw new FuzzFinding(`rebase: header names ${JSON.stringify(h.backingFile)} (${h.extensions.backingFormat})`);
  } catch (err) {
    if (err instanceof FuzzFinding) throw err;
    throw new FuzzFinding(`rebase: the rewritten header does not parse: ${(err as Error).message}`);
  }
}

/**
 * Search (issue #12): a pattern made from the input (hex, text or regex; it may be refused, with a PatternError
 * only) over the first few MiB of the hostile disk, both directions, under a small hit limit.
 */
const searchStage: FuzzStage = {
  name: 'search',
  async run({ dev, bytes }) {
    const rand = prng(bytes);
    const mode = (['hex', 'text', 'utf16', 'regex'] as PatternMode[])[Math.floor(rand() * 4)];
    const at = Math.floor(rand() * Math.max(1, bytes.length - 16));
    const source = Buffer.from(bytes.subarray(at, at + 1 + Math.floor(rand() * 16))).toString(mode === 'hex' ? 'hex' : 'latin1');
    let pattern;
    try {
      pattern = compilePattern({ mode, source, ignoreCase: rand() < 0.5 });
    } catch (err) {
      if (err instanceof PatternError) return;
      throw new FuzzFinding(`search: compilePattern threw ${(err as Error).name}: ${(err as Error).message}`);
    }
    const end = Math.min(dev.virtualSize, 4 * MAX_READ * 16);
    for (const direction of ['forward', 'backward'] as const) {
      const r = await searchDisk(dev, pattern, { end, direction, limit: 16 });
      for (const h of r.hits) if (h.offset < 0 || h.offset >= end) throw new FuzzFinding(`search hit at ${h.offset} outside [0, ${end})`);
    }
  },
};

export const stages: FuzzStage[] = [infoStage, bitmapStage, mappingStage, mapStage, readStage, guestFsStage, writeStage, historyStage, searchStage];
