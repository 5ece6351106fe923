/** Shared pieces of the write-path tests: a seeded workload against an in-memory raw model, and qemu-img checks. */
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { openImage, type Qcow2Dev } from '../../src/qcow2';
import { qemuImg } from '../helpers/qemu';

/** Small deterministic PRNG (mulberry32). */
import { seededRandom as prng } from '../../src/qcow2/io/fault';
export { prng };

export function pattern(len: number, salt: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (salt * 31 + i * 7 + (i >>> 9)) & 255;
  return b;
}

/** The guest view of an image as qemu-img sees it, as a raw buffer (small images only). */
export function guestBytes(image: string, raw: string, extra: string[] = []): Uint8Array {
  qemuImg(['convert', ...extra, '-O', 'raw', image, raw]);
  return new Uint8Array(require('node:fs').readFileSync(raw));
}

export interface WorkloadOptions {
  writes: number;
  maxLen: number;
  /** Restrict offsets to [0, span) (default: the whole disk). */
  span?: number;
  flushEvery?: number;
}

/** Random writes at random offsets, mirrored into `model`. */
export async function randomWrites(dev: Qcow2Dev, model: Uint8Array, seed: number, o: WorkloadOptions): Promise<void> {
  const rnd = prng(seed);
  const span = o.span ?? model.length;
  for (let i = 0; i < o.writes; i++) {
    const len = 1 + Math.floor(rnd() * o.maxLen);
    const off = Math.floor(rnd() * (span - len));
    const b = pattern(len, seed + i);
    await dev.writeAt(b, off);
    model.set(b, off);
    if (o.flushEvery && i % o.flushEvery === o.flushEvery - 1) await dev.flushMeta();
  }
}

/** qemu-img check must find no corruptions, no leaks and no check errors. */
export function assertClean(image: string): void {
  const r = qemuImg(['check', '--output=json', image], true);
  const j = JSON.parse(r.stdout || '{}');
  assert.equal(r.code, 0, `qemu-img check ${image}: exit ${r.code}\n${r.stdout}${r.stderr}`);
  assert.ok(!j.corruptions && !j.leaks && !j['check-errors'], `qemu-img check ${image}: ${r.stdout}`);
}

/** qemu-img compare of the image against a raw model. */
export function assertEqualsModel(image: string, model: Uint8Array, rawPath: string): void {
  writeFileSync(rawPath, model);
  const r = qemuImg(['compare', '-f', 'raw', '-F', 'qcow2', rawPath, image], true);
  assert.equal(r.code, 0, `qemu-img compare: ${r.stdout}${r.stderr}`);
}

export async function withImage<T>(path: string, fn: (dev: Qcow2Dev) => Promise<T>): Promise<T> {
  const dev = await openImage(path);
  try {
    return await fn(dev);
  } finally {
    await dev.close();
  }
}
