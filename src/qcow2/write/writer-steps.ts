/**
 * The steps of the writer (writer.ts) that its helpers for zero clusters (zero-clusters.ts) and compressed
 * clusters (compressed-clusters.ts) build on. The writer implements it; the helpers know only this interface.
 */
import type { MetaWriteback } from './meta-writeback';
import type { Refcounts } from './refcounts';

export interface WriterSteps {
  readonly wb: MetaWriteback;
  readonly rc: Refcounts;
  /** Makes L1 entry `l1Index` point at an L2 table this image owns alone (allocating or copying one); returns its offset. */
  ensureL2(l1Index: number): Promise<number>;
  /** n contiguous new clusters; returns the first one's index. */
  allocClusters(n: number): Promise<number>;
  /** Writes guest data at `host` in the image or its data file, encrypted when the image is. */
  writeData(host: number, plain: Uint8Array): Promise<void>;
  /** Writes guest bytes at `offset` (under the lock). */
  writeAt(buf: Uint8Array, offset: number): Promise<void>;
  /** Writes the dirty metadata back in the safe order. */
  flush(): Promise<void>;
}

/** Largest guest range handled (and buffered) at once. */
export const MAX_CHUNK_BYTES = 8 * 1024 * 1024;
/** An extended L2 entry's allocation (or zero) bits with every subcluster set. */
export const ALL_SUBCLUSTERS = 0xffffffff;
