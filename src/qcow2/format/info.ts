import {
  AUTOCLEAR_DATA_FILE_RAW,
  COMPAT_LAZY_REFCOUNTS,
  INCOMPAT_CORRUPT,
  INCOMPAT_DATA_FILE,
  INCOMPAT_DIRTY,
  INCOMPAT_EXTL2,
  isSet,
  type Qcow2Header,
} from './header';

/** Geometry and flags derived from the header, in the units the engine works in. */
export interface Qcow2Info {
  path: string;
  version: 2 | 3;
  virtualSize: number;
  clusterBits: number;
  clusterSize: number;
  /** Bytes per L2 entry: 8, or 16 with extended L2. */
  l2EntryBytes: number;
  /** Entries per L2 table (one cluster). */
  l2Entries: number;
  /** Guest bytes covered by one L1 entry. */
  l1EntrySpan: number;
  l1Size: number;
  /** Entries per cached L2 slice. */
  l2SliceEntries: number;
  extendedL2: boolean;
  subclusterSize: number;
  subclustersPerCluster: number;
  refcountOrder: number;
  refcountBits: number;
  /** Refcount entries per refcount block. */
  refblockEntries: number;
  compressionType: 'zlib' | 'zstd';
  lazyRefcounts: boolean;
  dirty: boolean;
  corrupt: boolean;
  hasDataFile: boolean;
  dataFileRaw: boolean;
  readOnly: boolean;
}

/** Largest L2 slice we cache as one piece: whole tables up to this size, so map and convert read big chunks. */
export const MAX_L2_SLICE_BYTES = 64 * 1024;

export function deriveInfo(path: string, h: Qcow2Header, readOnly: boolean): Qcow2Info {
  const clusterSize = 2 ** h.clusterBits;
  const extendedL2 = isSet(h.incompatibleFeatures, INCOMPAT_EXTL2);
  const l2EntryBytes = extendedL2 ? 16 : 8;
  const l2Entries = clusterSize / l2EntryBytes;
  const refcountBits = 2 ** h.refcountOrder;
  return {
    path,
    version: h.version,
    virtualSize: h.size,
    clusterBits: h.clusterBits,
    clusterSize,
    l2EntryBytes,
    l2Entries,
    l1EntrySpan: l2Entries * clusterSize,
    l1Size: h.l1Size,
    l2SliceEntries: Math.min(l2Entries, MAX_L2_SLICE_BYTES / l2EntryBytes),
    extendedL2,
    subclusterSize: extendedL2 ? clusterSize / 32 : clusterSize,
    subclustersPerCluster: extendedL2 ? 32 : 1,
    refcountOrder: h.refcountOrder,
    refcountBits,
    refblockEntries: (clusterSize * 8) / refcountBits,
    compressionType: h.compressionType === 1 ? 'zstd' : 'zlib',
    lazyRefcounts: isSet(h.compatibleFeatures, COMPAT_LAZY_REFCOUNTS),
    dirty: isSet(h.incompatibleFeatures, INCOMPAT_DIRTY),
    corrupt: isSet(h.incompatibleFeatures, INCOMPAT_CORRUPT),
    hasDataFile: isSet(h.incompatibleFeatures, INCOMPAT_DATA_FILE),
    dataFileRaw: isSet(h.autoclearFeatures, AUTOCLEAR_DATA_FILE_RAW),
    readOnly,
  };
}
