/**
 * Where a guest-disk range lives in the image files: asks each layer of the backing chain (blockStatus), going down
 * while a layer leaves the range unallocated, as `qemu-img map` does.
 */
import type { BlockLayer } from '../qcow2/index';

export interface HostPiece {
  'guest-offset': number;
  length: number;
  /** The image file holding the bytes; absent when they read as zeros. */
  file?: string;
  /** Host offset in `file` (absent for compressed clusters). */
  offset?: number;
  compressed?: boolean;
  zero?: boolean;
}

/** At most this many pieces per extent (a fragmented qcow2 under a fragmented file). */
const MAX_PIECES = 4096;

export async function hostPieces(top: BlockLayer, guestOffset: number, length: number): Promise<HostPiece[]> {
  const out: HostPiece[] = [];
  let at = guestOffset;
  const end = Math.min(guestOffset + length, top.virtualSize);
  while (at < end && out.length < MAX_PIECES) {
    let layer: BlockLayer | undefined = top;
    let piece: HostPiece | undefined;
    let n = end - at;
    while (layer && !piece) {
      const run = await layer.blockStatus(at, n);
      n = run.length;
      if (run.kind === 'data') piece = { 'guest-offset': at, length: n, file: layer.path, offset: run.hostOffset };
      else if (run.kind === 'compressed') piece = { 'guest-offset': at, length: n, file: layer.path, compressed: true };
      else if (run.kind === 'zero') piece = { 'guest-offset': at, length: n, zero: true };
      else if (!layer.backing || at >= layer.backing.virtualSize) piece = { 'guest-offset': at, length: n, zero: true };
      else layer = layer.backing;
    }
    const last = out[out.length - 1];
    if (
      last &&
      last.file === piece!.file &&
      last.zero === piece!.zero &&
      !last.compressed &&
      !piece!.compressed &&
      last.offset !== undefined &&
      piece!.offset === last.offset + last.length
    )
      last.length += n;
    else out.push(piece!);
    at += n;
  }
  return out;
}
