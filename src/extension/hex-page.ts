/**
 * Host side of the hex view's page fetch: guest bytes through the whole backing chain with the pending edits
 * applied, plus where each byte comes from. The mapping walk is bounded to the page (blockStatus with the
 * page's length at every layer), unlike getMapping, which measures a run to its end and can cost
 * milliseconds on big L2 slices. No vscode import: unit-tested and used by the bench.
 */
import { type BlockLayer, Qcow2Error } from '../qcow2';
import type { MapRun } from '../shared/protocol';
import { MAX_READ_BYTES } from '../shared/protocol';

export interface GuestDevice extends BlockLayer {
  readAt(buf: Uint8Array, offset: number): Promise<number>;
}

export interface Overlay {
  overlay(offset: number, buf: Uint8Array): void;
  pendingIn(offset: number, length: number): Array<[number, number]>;
}

/** How [offset, offset+length) maps, one run per same-kind, same-layer stretch, never past the range. */
export async function pageRuns(top: BlockLayer, offset: number, length: number): Promise<MapRun[]> {
  const runs: MapRun[] = [];
  const end = offset + length;
  let off = offset;
  while (off < end) {
    let layer: BlockLayer = top;
    let depth = 0;
    let len = end - off;
    let run: MapRun;
    for (;;) {
      const r = await layer.blockStatus(off, len);
      len = Math.max(1, Math.min(r.length, len));
      const next = layer.backing;
      if (r.kind !== 'unallocated' || !next || off >= next.virtualSize) {
        run = { start: off, length: len, kind: r.kind, depth, file: layer.path };
        if (r.hostOffset !== undefined) run.hostOffset = r.hostOffset;
        break;
      }
      len = Math.min(len, next.virtualSize - off);
      layer = next;
      depth++;
    }
    const prev = runs[runs.length - 1];
    if (prev && prev.kind === run.kind && prev.depth === run.depth && prev.file === run.file) prev.length += run.length;
    else runs.push(run);
    off += len;
  }
  return runs;
}

/** One hex page: validated range, bytes with pending edits (and where they are), and the mapping runs. */
export async function readHexPage(
  dev: GuestDevice,
  journal: Overlay | undefined,
  offset: number,
  length: number,
): Promise<{ bytes: Uint8Array; runs: MapRun[]; pending: Array<[number, number]> }> {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 1 ||
    length > MAX_READ_BYTES ||
    offset + length > dev.virtualSize
  ) {
    throw new Qcow2Error('range', `hex page of ${length} bytes at offset ${offset} is outside the disk (${dev.virtualSize} bytes)`, dev.path);
  }
  const bytes = new Uint8Array(length);
  await dev.readAt(bytes, offset);
  journal?.overlay(offset, bytes);
  return { bytes, runs: await pageRuns(dev, offset, length), pending: journal?.pendingIn(offset, length) ?? [] };
}
