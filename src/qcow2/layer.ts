/** What every layer of a backing chain offers: a qcow2 image or a raw file. */

export type RunKind = 'data' | 'zero' | 'compressed' | 'unallocated';

/** A stretch of guest offsets that one layer maps the same way. */
export interface LayerRun {
  kind: RunKind;
  /** Bytes from the queried offset; always at least 1 and at most the queried length. */
  length: number;
  /** Host offset of the first byte (data; zero with a preallocated cluster; unallocated subcluster of an allocated cluster). */
  hostOffset?: number;
  /** For compressed runs: where the compressed bytes are. */
  compressed?: { offset: number; length: number };
  /** Indices in the tables, for display (qcow2 layers only). */
  l1Index?: number;
  l2Index?: number;
}

export interface BlockLayer {
  readonly path: string;
  readonly format: 'qcow2' | 'raw';
  readonly virtualSize: number;
  /** The next layer down, if any. */
  readonly backing?: BlockLayer;
  /** Fills buf from the guest view at offset (through this layer's own backing chain). */
  readAt(buf: Uint8Array, offset: number): Promise<number>;
  /** How this layer alone maps [offset, offset + maxLength). */
  blockStatus(offset: number, maxLength: number): Promise<LayerRun>;
  close(): Promise<void>;
}
