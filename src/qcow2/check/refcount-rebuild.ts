/**
 * In-memory reference counts, one per host cluster of the image file, rebuilt from the metadata.
 * Sized by the file (never by the virtual size), with the image's refcount width so overflow matches QEMU.
 */
import { Qcow2Error } from '../errors';

/** Who references a host cluster, for the usage view and for naming overlaps. */
export const enum Owner {
  Free = 0,
  Header,
  L1,
  L2,
  RefcountTable,
  RefcountBlock,
  Data,
  Compressed,
  SnapshotTable,
  SnapshotL1,
  SnapshotL2,
  BitmapDirectory,
  BitmapTable,
  BitmapData,
  CryptoHeader,
}

export const OWNER_NAMES: Record<Owner, string> = {
  [Owner.Free]: 'free',
  [Owner.Header]: 'header',
  [Owner.L1]: 'L1 table',
  [Owner.L2]: 'L2 table',
  [Owner.RefcountTable]: 'refcount table',
  [Owner.RefcountBlock]: 'refcount block',
  [Owner.Data]: 'data',
  [Owner.Compressed]: 'compressed data',
  [Owner.SnapshotTable]: 'snapshot table',
  [Owner.SnapshotL1]: 'snapshot L1 table',
  [Owner.SnapshotL2]: 'snapshot L2 table',
  [Owner.BitmapDirectory]: 'bitmap directory',
  [Owner.BitmapTable]: 'bitmap table',
  [Owner.BitmapData]: 'bitmap data',
  [Owner.CryptoHeader]: 'encryption header',
};

/** Most clusters we will track: 2^27 (8 TiB of file at 64 KiB clusters), a few hundred MiB of counters. */
export const MAX_TRACKED_CLUSTERS = 2 ** 27;

export type CountArray = Uint8Array | Uint16Array | Uint32Array;

/** A counter array wide enough for `refcountBits`-bit refcounts (wider ones are capped at 2^32 - 1). */
export function makeCountArray(refcountBits: number, n: number): CountArray {
  if (refcountBits <= 8) return new Uint8Array(n);
  if (refcountBits <= 16) return new Uint16Array(n);
  return new Uint32Array(n);
}

export function checkTrackable(file: string, clusters: number): void {
  if (clusters > MAX_TRACKED_CLUSTERS) {
    throw new Qcow2Error('limit', `image file has ${clusters} clusters; checking more than ${MAX_TRACKED_CLUSTERS} would need too much memory`, file);
  }
}

export class RefcountArray {
  counts: CountArray;
  /** First owner of each cluster (Owner), for usage and overlap messages. */
  owners: Uint8Array;
  readonly max: number;

  constructor(
    readonly file: string,
    readonly refcountBits: number,
    public length: number,
  ) {
    checkTrackable(file, length);
    this.counts = makeCountArray(refcountBits, length);
    this.owners = new Uint8Array(length);
    this.max = refcountBits >= 32 ? 0xffffffff : 2 ** refcountBits - 1;
  }

  /** Adds one reference; returns false on overflow (count unchanged), as QEMU does. */
  inc(cluster: number, owner: Owner): boolean {
    if (cluster >= this.length) this.grow(cluster + 1);
    const c = this.counts[cluster];
    if (c === this.max) return false;
    this.counts[cluster] = c + 1;
    if (c === 0) this.owners[cluster] = owner;
    return true;
  }

  /** Adds n references at once; returns how many did not fit, each an overflow as with n single inc() calls. */
  add(cluster: number, owner: Owner, n: number): number {
    if (cluster >= this.length) this.grow(cluster + 1);
    const c = this.counts[cluster];
    const fit = Math.min(this.max - c, n);
    this.counts[cluster] = c + fit;
    if (c === 0 && fit > 0) this.owners[cluster] = owner;
    return n - fit;
  }

  get(cluster: number): number {
    return cluster < this.length ? this.counts[cluster] : 0;
  }

  /** Sets a count directly (allocation of new clusters during a rebuild). */
  set(cluster: number, value: number, owner: Owner): void {
    if (cluster >= this.length) this.grow(cluster + 1);
    this.counts[cluster] = value;
    this.owners[cluster] = value ? owner : Owner.Free;
  }

  grow(n: number): void {
    checkTrackable(this.file, n);
    const size = n; // exact: the compare pass walks every tracked cluster, as QEMU's does
    const counts = makeCountArray(this.refcountBits, size);
    counts.set(this.counts);
    const owners = new Uint8Array(size);
    owners.set(this.owners);
    this.counts = counts;
    this.owners = owners;
    this.length = size;
  }

  reset(): void {
    this.counts.fill(0);
    this.owners.fill(0);
  }
}
