/**
 * Crash-safety harness: runs a write workload through a fault-injecting file, then checks the image a crash or
 * an I/O error leaves behind. The rules:
 * - `qemu-img check` finds no corruptions and no check errors (leaked clusters are allowed);
 * - every write that completed before the last successful flushMeta + fsyncRange reads back, except where a
 *   later (not yet durable, or failed) write covers the same bytes: those bytes are unspecified.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { strict as assert } from 'node:assert';
import { openImage } from '../../src/qcow2/open';
import { NodeFileIo } from '../../src/qcow2/io/node';
import { MemIo } from '../../src/qcow2/io/memory';
import type { Qcow2IoOps } from '../../src/qcow2/io/ops';
import { qemuImg, sha256File } from './qemu';
import { LONG, opData, qemuCheck, type WriteOp } from './workload';

export interface CrashWorkload {
  name: string;
  /** The image file (its backing files stay on disk, read-only). */
  path: string;
  virtualSize: number;
  ops: WriteOp[];
  /** flushMeta + fsyncRange after every this many writes. */
  syncEvery: number;
  l2CacheSlices?: number;
  /** The external data file (absolute path), when the image has one: it gets a fault-injecting file too. */
  dataFile?: string;
  /** sha256 of each internal snapshot's guest contents before the workload (they must never change). */
  snapshotHashes?: Map<string, string>;
  /** The passphrase of a LUKS-encrypted image (qemu-img and qemu-io get it as secret sec0). */
  passphrase?: string;
}

/** qemu-img's way to name `file` (with its secret when encrypted) and the arguments before it. */
function qemuImage(file: string, w: CrashWorkload): { args: string[]; image: string } {
  if (w.passphrase === undefined) return { args: [], image: file };
  return {
    args: ['--object', `secret,id=sec0,data=${w.passphrase}`, '--image-opts'],
    image: `driver=qcow2,file.filename=${file},encrypt.key-secret=sec0`,
  };
}

export interface RunOutcome {
  /** Index of each op's fate: 'durable' (completed before a successful sync), 'done' (completed, not synced), 'failed'. */
  fate: Array<'durable' | 'done' | 'failed' | 'not-run'>;
  error?: Error;
}

/**
 * Runs the workload with `io` standing in for the image file. With `continueAfterError`, a failed write or
 * sync does not stop the run (a transient EIO): later ops still go through, and a final sync is attempted.
 */
export async function runWithIo(w: CrashWorkload, io: Qcow2IoOps, continueAfterError: boolean, dataIo?: Qcow2IoOps): Promise<RunOutcome> {
  const fate: RunOutcome['fate'] = w.ops.map(() => 'not-run');
  let firstError: Error | undefined;
  let dev;
  try {
    dev = await openImage(w.path, {
      readOnly: false,
      l2CacheSlices: w.l2CacheSlices ?? 2,
      refblockCacheSlices: 2,
      encryptionKey: w.passphrase === undefined ? undefined : { passphrase: w.passphrase },
      openIo: (p) => (p === w.path ? Promise.resolve(io) : p === w.dataFile && dataIo ? Promise.resolve(dataIo) : NodeFileIo.open(p, true)),
    });
  } catch (err) {
    return { fate, error: err as Error };
  }
  const sync = async (upTo: number): Promise<boolean> => {
    try {
      await dev.flushMeta();
      await dev.fsyncRange(0, w.virtualSize);
      for (let j = 0; j < upTo; j++) if (fate[j] === 'done') fate[j] = 'durable';
      return true;
    } catch (err) {
      firstError ??= err as Error;
      return false;
    }
  };
  try {
    for (let i = 0; i < w.ops.length; i++) {
      const op = w.ops[i];
      try {
        await dev.writeAt(opData(op), op.offset);
        fate[i] = 'done';
      } catch (err) {
        fate[i] = 'failed';
        firstError ??= err as Error;
        if (!continueAfterError) return { fate, error: firstError };
      }
      if ((i + 1) % w.syncEvery === 0 && !(await sync(i + 1)) && !continueAfterError) return { fate, error: firstError };
    }
    await sync(w.ops.length);
    return { fate, error: firstError };
  } finally {
    await dev.close().catch(() => undefined);
  }
}

/** Guest ranges [start, end) whose contents are unspecified: covered by a write that was not durable or failed. */
export function unknownRanges(ops: WriteOp[], fate: RunOutcome['fate']): Array<[number, number]> {
  let ranges: Array<[number, number]> = [];
  ops.forEach((op, i) => {
    if (fate[i] === 'not-run') return;
    const a = op.offset;
    const b = op.offset + op.length;
    // A durable write makes its bytes known again; any other issued write makes them unknown.
    const next: Array<[number, number]> = [];
    for (const [s, e] of ranges) {
      if (e <= a || s >= b) next.push([s, e]);
      else {
        if (s < a) next.push([s, a]);
        if (e > b) next.push([b, e]);
      }
    }
    if (fate[i] !== 'durable') next.push([a, b]);
    ranges = next;
  });
  return ranges;
}

/** The guest bytes we know for sure: the original contents with every durable write applied. */
export function expectedContents(initial: Uint8Array, ops: WriteOp[], fate: RunOutcome['fate']): Uint8Array {
  const data = initial.slice();
  ops.forEach((op, i) => {
    if (fate[i] === 'durable') data.set(opData(op), op.offset);
  });
  return data;
}

/** Checks a crash image: no corruptions (leaks allowed) and every durable write reads back. */
/** A scratch folder, on tmpfs when there is one: each fault point writes and converts a whole image. */
export function fastScratchDir(prefix: string): { dir: string; path(name: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), prefix));
  return { dir, path: (name: string) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

let verifications = 0;

/** The guest contents of an image held in memory, read by our engine (its read path is tested against QEMU). */
async function engineReadAll(bytes: Uint8Array, file: string, dataFile?: string, dataBytes?: Uint8Array, passphrase?: string): Promise<Buffer> {
  const mem = (p: string): Qcow2IoOps | undefined =>
    p === file ? new MemIo(bytes, file, true) : p === dataFile && dataBytes ? new MemIo(dataBytes, p, true) : undefined;
  const dev = await openImage(file, {
    readOnly: true,
    openIo: (p, ro) => Promise.resolve(mem(p) ?? NodeFileIo.open(p, ro)),
    encryptionKey: passphrase === undefined ? undefined : { passphrase },
  });
  try {
    const out = Buffer.alloc(dev.virtualSize);
    for (let off = 0; off < out.length; off += 1 << 20) await dev.readAt(out.subarray(off, Math.min(out.length, off + (1 << 20))), off);
    return out;
  } finally {
    await dev.close();
  }
}

/**
 * Checks a crash image: no corruptions (leaks allowed) and every durable write reads back. The contents are read
 * by qemu-img convert on every fourth call (every call with Q2I_LONG=1) and by our engine otherwise, for speed.
 */
export async function verifyCrashImage(
  bytes: Uint8Array,
  file: string,
  rawOut: string,
  initialRaw: Uint8Array,
  w: CrashWorkload,
  outcome: RunOutcome,
  label: string,
  dataBytes?: Uint8Array,
): Promise<{ leaks: number }> {
  writeFileSync(file, bytes);
  // The image names its data file by absolute path: the crash copy of the data file goes there.
  if (w.dataFile && dataBytes) writeFileSync(w.dataFile, dataBytes);
  const q = qemuImage(file, w);
  const chk = qemuCheck(q.image, q.args);
  assert.ok(chk.code === 0 || chk.code === 3, `${label}: qemu-img check found corruptions (exit ${chk.code}):\n${chk.raw}`);
  assert.equal(chk.corruptions, 0, `${label}: ${chk.raw}`);
  assert.equal(chk.checkErrors, 0, `${label}: ${chk.raw}`);
  let got: Buffer;
  if (LONG || verifications++ % 4 === 0) {
    qemuImg(['convert', ...q.args, '-O', 'raw', q.image, rawOut]);
    got = readFileSync(rawOut);
    for (const [name, hash] of w.snapshotHashes ?? []) {
      qemuImg(['convert', '-l', `snapshot.name=${name}`, '-O', 'raw', file, rawOut]);
      assert.equal(sha256File(rawOut), hash, `${label}: snapshot ${name} changed`);
    }
  } else got = await engineReadAll(bytes, file, w.dataFile, dataBytes, w.passphrase);
  const want = expectedContents(initialRaw, w.ops, outcome.fate);
  assert.equal(got.length, want.length, `${label}: virtual size changed`);
  for (const [a, b] of unknownRanges(w.ops, outcome.fate)) {
    got.fill(0, a, b);
    want.fill(0, a, b);
  }
  if (!got.equals(want)) {
    let i = 0;
    while (got[i] === want[i]) i++;
    const op = w.ops.findIndex((o, j) => outcome.fate[j] === 'durable' && i >= o.offset && i < o.offset + o.length);
    assert.fail(`${label}: guest byte ${i} is ${got[i]}, expected ${want[i]} (${op >= 0 ? `durable write #${op}` : 'original contents'})`);
  }
  return { leaks: chk.leaks };
}

/** Which N to try: every N up to `dense`, then a stride so that about `budget` runs happen, and the last few. */
export function pickNs(total: number, dense: number, budget: number): number[] {
  if (LONG || total + 1 <= budget) return Array.from({ length: total + 1 }, (_, i) => i + 1);
  const out = new Set<number>();
  const d = Math.min(dense, Math.floor(budget * 0.6));
  for (let n = 1; n <= Math.min(d, total); n++) out.add(n);
  const stride = Math.max(1, Math.ceil((total - d) / Math.max(1, budget - d - 5)));
  for (let n = d + 1; n <= total; n += stride) out.add(n);
  for (let n = Math.max(1, total - 4); n <= total + 1; n++) out.add(n);
  return [...out].sort((a, b) => a - b);
}
