/**
 * The differences between two guest disks, as qemu-img compare finds them, but from both maps first: ranges that
 * read as zeros on both sides, or that read the same host bytes of the same file, are equal without reading.
 * Everything else is read in large pieces and compared in 512-byte sectors (qemu-img reports sector offsets).
 */
import { mapEntries, Qcow2Dev, RawDev, type BlockLayer, type MapEntry, type Qcow2IoOps } from '../qcow2';

const SECTOR = 512;
const CHUNK = 4 * 1024 * 1024;

export interface DiffRange {
  start: number;
  length: number;
}

/** Status per range for -s (qemu-img's strict mode compares allocation status too). */
export interface StatusMismatch {
  statusAt: number;
}

/** Yields differing sector-aligned ranges in [0, min size), coalesced; with `strict`, stops at a status mismatch. */
export async function* diffCommon(a: BlockLayer, b: BlockLayer, strict: boolean): AsyncGenerator<DiffRange | StatusMismatch> {
  const end = Math.min(a.virtualSize, b.virtualSize);
  const ia = mapEntries(a)[Symbol.asyncIterator]();
  const ib = mapEntries(b)[Symbol.asyncIterator]();
  let ea = (await ia.next()).value as MapEntry | undefined;
  let eb = (await ib.next()).value as MapEntry | undefined;
  let pos = 0;
  let open: DiffRange | undefined;
  while (pos < end && ea && eb) {
    const stop = Math.min(end, ea.start + ea.length, eb.start + eb.length);
    if (strict && (ea.present !== eb.present || ea.zero !== eb.zero || ea.data !== eb.data)) {
      if (open) yield open;
      yield { statusAt: pos };
      return;
    }
    const zeroA = ea.zero || !ea.data;
    const zeroB = eb.zero || !eb.data;
    const shared =
      !zeroA &&
      !zeroB &&
      ea.offset !== undefined &&
      eb.offset !== undefined &&
      ea.offset - ea.start === eb.offset - eb.start &&
      sameFile(layerFile(a, ea.depth), layerFile(b, eb.depth));
    if (!(zeroA && zeroB) && !shared) {
      for (let p = pos; p < stop; p += CHUNK) {
        const n = Math.min(CHUNK, stop - p);
        const ba = new Uint8Array(n);
        const bb = new Uint8Array(n);
        if (!zeroA) await a.readAt(ba, p);
        if (!zeroB) await b.readAt(bb, p);
        for (const d of differingSectors(ba, bb, p)) {
          if (open && open.start + open.length === d.start) open.length += d.length;
          else {
            if (open) yield open;
            open = d;
          }
        }
      }
    }
    pos = stop;
    if (pos >= ea.start + ea.length) ea = (await ia.next()).value as MapEntry | undefined;
    if (pos >= eb.start + eb.length) eb = (await ib.next()).value as MapEntry | undefined;
  }
  if (open) yield open;
}

/** Non-zero sector ranges in [from, dev end): the tail of the larger image, which must read as zeros. */
export async function* nonZeroTail(dev: BlockLayer, from: number): AsyncGenerator<DiffRange> {
  let open: DiffRange | undefined;
  for await (const e of mapEntries(dev)) {
    const s = Math.max(e.start, from);
    const stop = e.start + e.length;
    if (stop <= s || e.zero || !e.data) continue;
    for (let p = s; p < stop; p += CHUNK) {
      const buf = new Uint8Array(Math.min(CHUNK, stop - p));
      await dev.readAt(buf, p);
      for (const d of differingSectors(buf, new Uint8Array(buf.length), p)) {
        if (open && open.start + open.length === d.start) open.length += d.length;
        else {
          if (open) yield open;
          open = d;
        }
      }
    }
  }
  if (open) yield open;
}

function* differingSectors(x: Uint8Array, y: Uint8Array, base: number): Generator<DiffRange> {
  // Compare 8 bytes at a time where the buffers allow it (fresh buffers are aligned).
  for (let i = 0; i < x.length; i += SECTOR) {
    const n = Math.min(SECTOR, x.length - i);
    if (!sameBytes(x, y, i, n)) yield { start: base + i, length: n };
  }
}

function sameBytes(x: Uint8Array, y: Uint8Array, at: number, n: number): boolean {
  if (n === SECTOR && at % 8 === 0) {
    const a = new BigUint64Array(x.buffer, x.byteOffset + at, 64);
    const b = new BigUint64Array(y.buffer, y.byteOffset + at, 64);
    for (let i = 0; i < 64; i++) if (a[i] !== b[i]) return false;
    return true;
  }
  for (let i = at; i < at + n; i++) if (x[i] !== y[i]) return false;
  return true;
}

function layerFile(top: BlockLayer, depth: number): Qcow2IoOps | undefined {
  let layer: BlockLayer | undefined = top;
  for (let d = 0; d < depth && layer; d++) layer = layer.backing;
  if (layer instanceof Qcow2Dev) return layer.dataIo ?? layer.io;
  if (layer instanceof RawDev) return layer.io;
  return undefined;
}

function sameFile(x: Qcow2IoOps | undefined, y: Qcow2IoOps | undefined): boolean {
  return x !== undefined && y !== undefined && (x === y || x.path === y.path);
}
