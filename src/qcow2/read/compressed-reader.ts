/**
 * Reads and decompresses compressed clusters, keeping the last one and the read-ahead window of host bytes it
 * came from: compressed clusters usually lie back to back, so a scan costs one read per window, not per cluster.
 */
import { badImage } from '../errors';
import type { CompressedRange } from '../format/entries';
import type { FileEnd } from '../io/file-end';
import { readFully, type Qcow2IoOps } from '../io/ops';
import { decompressCluster } from './compress';

/** Host bytes read at once when fetching compressed clusters (they are packed back to back). */
export const COMPRESSED_READAHEAD = 512 * 1024;

export class CompressedClusterReader {
  private last?: { key: number; data: Uint8Array; window?: { offset: number; bytes: Uint8Array } };

  constructor(
    private readonly io: Qcow2IoOps,
    private readonly fileEnd: FileEnd,
    private readonly clusterSize: number,
    private readonly compressionType: number,
    private readonly path: string,
  ) {}

  /** The guest cluster stored at `range`, decompressed. */
  async read(range: CompressedRange): Promise<Uint8Array> {
    if (this.last?.key === range.offset) return this.last.data;
    const { clusterSize } = this;
    if (range.offset >= this.fileEnd.size && range.offset >= (await this.fileEnd.refresh())) {
      throw badImage(this.path, `compressed cluster at 0x${range.offset.toString(16)} lies beyond the end of the file`);
    }
    const want = Math.min(range.length, 2 * clusterSize + 512);
    let window = this.last?.window;
    let input: Uint8Array;
    if (window && range.offset >= window.offset && range.offset + want <= window.offset + window.bytes.length) {
      input = window.bytes.subarray(range.offset - window.offset, range.offset - window.offset + want);
    } else {
      const bytes = new Uint8Array(Math.max(want, Math.min(COMPRESSED_READAHEAD, this.fileEnd.size - range.offset)));
      const n = await readFully(this.io, bytes, range.offset);
      window = { offset: range.offset, bytes: bytes.subarray(0, n) };
      input = window.bytes.subarray(0, Math.min(n, want));
    }
    const data = decompressCluster(this.compressionType, input, clusterSize, this.path);
    this.last = { key: range.offset, data, window };
    return data;
  }

  /** Drops the kept cluster and window (the host bytes may be rewritten). */
  forget(): void {
    this.last = undefined;
  }
}
