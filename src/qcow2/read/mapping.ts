/** getMapping: where a guest offset's data comes from, following the backing chain down to the layer that answers. */
import type { BlockLayer, RunKind } from '../layer';

/** Where a guest offset's data comes from, through the whole chain. */
export interface Mapping {
  /** The guest range this answer covers, starting at the queried offset. */
  offset: number;
  length: number;
  kind: RunKind;
  /** 0 for this image, 1 for its backing file, and so on. */
  depth: number;
  /** The file of the layer that answers. */
  file: string;
  format: 'qcow2' | 'raw';
  hostOffset?: number;
  compressed?: { offset: number; length: number };
  l1Index?: number;
  l2Index?: number;
}

export async function chainMapping(top: BlockLayer, offset: number): Promise<Mapping> {
  let layer = top;
  let depth = 0;
  let length = top.virtualSize - offset;
  for (;;) {
    const run = await layer.blockStatus(offset, length);
    length = run.length;
    const next = layer.backing;
    if (run.kind !== 'unallocated' || !next || offset >= next.virtualSize) {
      return {
        offset,
        length,
        kind: run.kind,
        depth,
        file: layer.path,
        format: layer.format,
        hostOffset: run.hostOffset,
        compressed: run.compressed,
        l1Index: run.l1Index,
        l2Index: run.l2Index,
      };
    }
    length = Math.min(length, next.virtualSize - offset);
    layer = next;
    depth++;
  }
}
