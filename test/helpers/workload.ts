/**
 * Seeded random write workloads and the checks that follow them.
 * The model of the guest disk is a sparse raw file: every write goes to it too, and `qemu-img compare`
 * must find it equal to the image afterwards.
 */
import { closeSync, openSync, writeSync, writeFileSync } from 'node:fs';
import { strict as assert } from 'node:assert';
import { seededRandom } from '../../src/qcow2/io/fault';
import { qemuImg, qemuIo, sha256File } from './qemu';

export interface WriteOp {
  offset: number;
  length: number;
  /** Seed of the bytes written; 0 writes zeros. */
  dataSeed: number;
}

export interface Geometry {
  virtualSize: number;
  clusterSize: number;
  /** Guest bytes covered by one L2 table. */
  l2Span: number;
}

export interface WorkloadOptions {
  count: number;
  /** Longest write (default 300 KiB). */
  maxLength?: number;
  /** Keep writes inside [0, limit) (default the virtual size); 4 TiB images use `highFrom` as well. */
  limit?: number;
  /** Also aim some writes at or above this offset (e.g. 4 GiB). */
  highFrom?: number;
}

export function envSeed(fallback: number): number {
  const s = process.env.Q2I_SEED;
  return s ? Number(s) : fallback;
}

/** Longer soaks with Q2I_LONG=1. */
export const LONG = process.env.Q2I_LONG === '1';

/** Offsets near cluster and L2 boundaries, random ones, and high ones; lengths 1 B .. maxLength, mostly unaligned. */
export function genWorkload(seed: number, g: Geometry, o: WorkloadOptions): WriteOp[] {
  const rnd = seededRandom(seed);
  const int = (n: number): number => Math.floor(rnd() * n);
  const limit = Math.min(o.limit ?? g.virtualSize, g.virtualSize);
  const maxLen = Math.min(o.maxLength ?? 300 * 1024, limit);
  const ops: WriteOp[] = [];
  for (let i = 0; i < o.count; i++) {
    const r = rnd();
    let length: number;
    if (r < 0.3) length = 1 + int(600);
    else if (r < 0.6) length = 1 + int(Math.min(maxLen, 2 * g.clusterSize));
    else if (r < 0.8) length = g.clusterSize * (1 + int(3)) + (rnd() < 0.5 ? 0 : int(1024) - 512);
    else length = 1 + int(maxLen);
    length = Math.max(1, Math.min(length, maxLen));
    const span = o.highFrom !== undefined && rnd() < 0.5 ? { from: o.highFrom, to: g.virtualSize } : { from: 0, to: limit };
    const kind = rnd();
    let offset: number;
    if (kind < 0.35) {
      // Straddle a cluster boundary.
      const c = span.from / g.clusterSize + int((span.to - span.from) / g.clusterSize);
      offset = c * g.clusterSize - int(Math.min(length, 2048));
    } else if (kind < 0.55) {
      // Straddle an L2-table boundary.
      const tables = Math.max(1, Math.floor((span.to - span.from) / g.l2Span));
      offset = span.from + (1 + int(tables)) * g.l2Span - int(Math.min(length, g.clusterSize + 7));
    } else if (kind < 0.7 && ops.length > 0) {
      // Overwrite part of an earlier write (rewrites allocated clusters).
      const prev = ops[int(ops.length)];
      offset = prev.offset + int(prev.length);
    } else offset = span.from + int(span.to - span.from);
    offset = Math.max(0, Math.min(offset, g.virtualSize - length));
    ops.push({ offset, length, dataSeed: rnd() < 0.05 ? 0 : 1 + int(2 ** 31) });
  }
  return ops;
}

export function opData(op: WriteOp): Uint8Array {
  const out = new Uint8Array(op.length);
  if (op.dataSeed === 0) return out;
  const rnd = seededRandom(op.dataSeed);
  const words = new Uint32Array(out.buffer, 0, out.length >>> 2);
  for (let i = 0; i < words.length; i++) words[i] = (rnd() * 4294967296) >>> 0;
  for (let i = words.length * 4; i < out.length; i++) out[i] = (rnd() * 256) | 0;
  return out;
}

/** The raw model: a sparse file holding the guest view. */
export class RawModel {
  private constructor(readonly path: string) {}

  /** Starts from the image's current guest contents (through its backing chain). */
  static fromImage(image: string, modelPath: string): RawModel {
    qemuImg(['convert', '-O', 'raw', image, modelPath]);
    return new RawModel(modelPath);
  }

  apply(ops: WriteOp[]): void {
    const fd = openSync(this.path, 'r+');
    try {
      for (const op of ops) writeSync(fd, opData(op), 0, op.length, op.offset);
    } finally {
      closeSync(fd);
    }
  }
}

/** Something that applies writes to an image: our engine, or qemu-io to validate the harness itself. */
export interface ImageWriter {
  write(op: WriteOp): Promise<void>;
  flush(): Promise<void>;
  close(): Promise<void>;
}

/** Runs all ops through qemu-io in one process (bytes come from one pattern file per op). */
export function qemuIoApply(image: string, ops: WriteOp[], scratch: (name: string) => string): void {
  const batch = 64;
  for (let b = 0; b < ops.length; b += batch) {
    const cmds: string[] = [];
    ops.slice(b, b + batch).forEach((op, i) => {
      const f = scratch(`op-${b + i}.bin`);
      writeFileSync(f, opData(op));
      cmds.push(op.dataSeed === 0 ? `write -q -z ${op.offset} ${op.length}` : `write -q -s ${f} ${op.offset} ${op.length}`);
    });
    qemuIo(image, cmds);
  }
}

/** The state to keep intact across a workload: backing files and snapshot contents. */
export interface Baseline {
  backing: Map<string, string>;
  snapshots: Map<string, string>;
}

export function snapshotNames(image: string): string[] {
  const info = JSON.parse(qemuImg(['info', '--output=json', image]).stdout);
  return ((info.snapshots ?? []) as Array<{ name: string }>).map((s) => s.name);
}

function snapshotHash(image: string, name: string, scratch: (n: string) => string): string {
  const out = scratch(`snap-${name}.raw`);
  qemuImg(['convert', '-l', `snapshot.name=${name}`, '-O', 'raw', image, out]);
  return sha256File(out);
}

export function takeBaseline(image: string, backingFiles: string[], scratch: (n: string) => string): Baseline {
  const backing = new Map(backingFiles.map((f) => [f, sha256File(f)]));
  const snapshots = new Map(snapshotNames(image).map((n) => [n, snapshotHash(image, n, scratch)]));
  return { backing, snapshots };
}

export interface CheckResult {
  corruptions: number;
  leaks: number;
  checkErrors: number;
  code: number;
  raw: string;
}

export function qemuCheck(image: string, extra: string[] = []): CheckResult {
  const r = qemuImg(['check', '--output=json', ...extra, image], true);
  let j: Record<string, number> = {};
  try {
    j = JSON.parse(r.stdout);
  } catch {
    /* check could not run: reported through code */
  }
  return { corruptions: j.corruptions ?? 0, leaks: j.leaks ?? 0, checkErrors: j['check-errors'] ?? 0, code: r.code, raw: r.stdout + r.stderr };
}

/** After a workload: clean check, equal to the model, backing files and snapshots untouched. */
export function verifyAfterWorkload(image: string, model: RawModel, base: Baseline, scratch: (n: string) => string, label: string): void {
  const chk = qemuCheck(image);
  assert.equal(chk.code, 0, `${label}: qemu-img check is not clean:\n${chk.raw}`);
  assert.equal(chk.corruptions + chk.leaks + chk.checkErrors, 0, `${label}: ${chk.raw}`);
  const cmp = qemuImg(['compare', '-f', 'qcow2', '-F', 'raw', image, model.path], true);
  assert.equal(cmp.code, 0, `${label}: image differs from the model: ${cmp.stdout}${cmp.stderr}`);
  for (const [f, hash] of base.backing) assert.equal(sha256File(f), hash, `${label}: backing file ${f} changed`);
  for (const [name, hash] of base.snapshots) assert.equal(snapshotHash(image, name, scratch), hash, `${label}: snapshot ${name} changed`);
  assert.deepEqual(snapshotNames(image), [...base.snapshots.keys()], `${label}: snapshot list changed`);
}

/** Adds the seed to any failure so it can be replayed with Q2I_SEED. */
export async function withSeed<T>(seed: number, fn: () => Promise<T> | T): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Error) err.message = `[seed ${seed}; replay with Q2I_SEED=${seed}] ${err.message}`;
    throw err;
  }
}
