/**
 * The data shapes and limits of the host–webview protocol (src/shared/protocol.ts re-exports them): what the views
 * show, and the bounds the host enforces on what the webview asks.
 */

/** Kinds a guest range can have, as in qemu-img map (compressed is data stored compressed). */
export type MapKind = 'data' | 'zero' | 'compressed' | 'unallocated';

/** Numeric codes for MapKind in compact arrays (map summaries). */
export const MAP_KIND_CODES: readonly MapKind[] = ['unallocated', 'data', 'zero', 'compressed'];
export const MAP_KIND_NONE = 255; // a bucket past the end of the disk

/** The tabs of the editor. 'hex' is the guest-disk hex view (webview/hex, H6); 'files' the guest's files. */
export type ViewId = 'overview' | 'chain' | 'map' | 'integrity' | 'usage' | 'hex' | 'files';
export const VIEW_IDS: readonly ViewId[] = ['overview', 'chain', 'map', 'integrity', 'usage', 'hex', 'files'];

/** Largest byte range the webview may ask for at once (hex pages, previews). */
export const MAX_READ_BYTES = 1024 * 1024;
/** Most map buckets per request (a wide canvas at device pixel ratio 2). */
export const MAX_MAP_BUCKETS = 8192;
/** Most mapping runs per request (rows of the virtualised list). */
export const MAX_RUN_ROWS = 500;
/** Most bytes one edit message may carry. */
export const MAX_EDIT_BYTES = 64 * 1024;
/** "Find all" stops after this many hits (and says so). */
export const FIND_RESULT_LIMIT = 10_000;
/** Longest find pattern the webview may send, in characters (the engine bounds the encoded bytes to 64 KiB). */
export const MAX_FIND_PATTERN_CHARS = 256 * 1024;

export interface HeaderField {
  name: string;
  /** Raw value as stored (decimal or 0x hex for offsets). */
  raw: string;
  /** What it means, for people. */
  meaning: string;
}

export interface FeatureBitInfo {
  group: 'incompatible' | 'compatible' | 'autoclear';
  bit: number;
  /** From the image's feature name table when present, else our own name, else "unknown". */
  name: string;
  /** True when the name came from the image's feature name table. */
  fromTable: boolean;
  known: boolean;
}

export interface HeaderExtensionInfo {
  type: string; // 0x hex
  name: string;
  length: number;
  summary: string;
}

export interface SnapshotInfo {
  id: string;
  name: string;
  date: string; // ISO
  vmClock: string;
  vmStateSize: number;
  diskSize?: number;
  l1Size: number;
}

export interface BitmapInfo {
  name: string;
  granularity: number;
  flags: string[];
}

export type WarningKind = 'dirty' | 'corrupt' | 'damaged' | 'encrypted' | 'bitmaps' | 'lazy-refcounts' | 'unknown-features' | 'data-file' | 'untrusted';
export interface ImageWarning {
  kind: WarningKind;
  message: string;
  /** A button with the warning: 'unlock' asks the host for the passphrase (the webview never sees it). */
  action?: 'unlock';
}

export interface OverviewData {
  file: string;
  fileSize: number;
  virtualSize: number;
  clusterSize: number;
  version: number;
  fields: HeaderField[];
  features: FeatureBitInfo[];
  extensions: HeaderExtensionInfo[];
  snapshots: SnapshotInfo[];
  bitmaps: BitmapInfo[];
  warnings: ImageWarning[];
  /** Milliseconds from the first request to the overview being ready (host side). */
  elapsedMs: number;
}

export interface ChainLayerInfo {
  depth: number;
  /** The name as recorded in the child's header (undefined for the top). */
  recordedName?: string;
  /** Resolved absolute path (or the recorded name when it cannot be resolved). */
  path: string;
  format: 'qcow2' | 'raw' | 'unknown';
  virtualSize?: number;
  clusterSize?: number;
  /** Bytes of this layer's own guest range that it allocates (qcow2) or its file size (raw). */
  allocatedBytes?: number;
  /** allocatedBytes / virtualSize, 0..1. */
  shareAllocated?: number;
  /** Set when the layer cannot be used: missing, loop, untrusted, unreadable. */
  error?: string;
  errorKind?: 'missing' | 'loop' | 'untrusted' | 'unreadable' | 'depth' | 'unsupported';
}

export interface MapSummary {
  requestId: number;
  /** Guest range covered, [start, end). */
  start: number;
  end: number;
  bucketBytes: number;
  /** Per bucket: the dominant kind (index into MAP_KIND_CODES) or MAP_KIND_NONE. */
  kinds: number[];
  /** Per bucket: depth in the chain of the layer that answers for the dominant kind (0 = this image). */
  depths: number[];
  /** Per bucket: 1 when the bucket holds more than one kind/layer (drawn hatched). */
  mixed: number[];
  /** How far the scan got: buckets past it are not computed yet (streamed updates). */
  scannedTo: number;
  done: boolean;
  elapsedMs: number;
  /** Layer files by depth, for the legend. */
  layers: string[];
}

export interface MapRun {
  start: number;
  length: number;
  kind: MapKind;
  depth: number;
  /** File of the answering layer. */
  file: string;
  hostOffset?: number;
  l1Index?: number;
  l2Index?: number;
}

export interface MappingDetail extends MapRun {
  requestId: number;
  /** The queried guest offset. */
  offset: number;
  compressedOffset?: number;
  compressedLength?: number;
  /** Asked for a map cell: where a click on it opens the hex view (the run's first byte, or the cell's). */
  clickOffset?: number;
}

export type FindingSeverity = 'corruption' | 'leak' | 'warning' | 'info';
export interface IntegrityFinding {
  severity: FindingSeverity;
  message: string;
  /** Where in the host file, when known. */
  hostOffset?: number;
  /** Where in the guest disk, when known (clicking opens the hex view there). */
  guestOffset?: number;
}

export interface IntegrityReport {
  /** False when the engine's check is not available in this build. */
  available: boolean;
  corruptions: number;
  leaks: number;
  checkErrors: number;
  imageEndOffset?: number;
  allocatedClusters?: number;
  totalClusters?: number;
  fragmentedClusters?: number;
  compressedClusters?: number;
  findings: IntegrityFinding[];
  /** Findings beyond this many are dropped; this counts them. */
  truncated: number;
  elapsedMs: number;
  repaired?: { leaksFixed: number; corruptionsFixed: number };
  /** The backing chain cannot be opened (qemu-img would refuse the image): shown above the metadata verdict. */
  chainError?: { kind: string; layer: string; message: string };
}

export interface UsageCategory {
  /** e.g. header, l1, l2, refcount-table, refcount-block, data, compressed, snapshot, bitmap, free, unused. */
  category: string;
  bytes: number;
  clusters: number;
}

export interface UsageData {
  available: boolean;
  fileSize: number;
  clusterSize: number;
  categories: UsageCategory[];
  elapsedMs: number;
}

export type FindMode = 'hex' | 'text' | 'utf16' | 'regex';
export const FIND_MODES: readonly FindMode[] = ['hex', 'text', 'utf16', 'regex'];
export type FindAction = 'next' | 'previous' | 'all';
export type FindStatus = 'done' | 'cancelled' | 'limit' | 'error';

/** One hit of a hex-view search. */
export interface FindHit {
  offset: number;
  length: number;
  /** Depth in the backing chain of the layer holding the first byte (0 = this image). */
  layer: number;
  hostOffset: number | null;
  /** A few bytes around the hit as printable text ('.' for the rest). */
  preview: string;
  /** Guest-file scope: where the hit is in the file (`offset` is where that byte lies on the guest disk). */
  fileOffset?: number;
}

/** A file in the guest: the volume's key (as in GuestVolumeInfo) and its absolute path there. */
export interface GuestFileRef {
  volume: string;
  path: string;
}

/** A volume of the guest disk for the Files tab: a partition, an LVM logical volume, or the whole disk. */
export interface GuestVolumeInfo {
  /** How guest URIs and requests name it: the partition number, the LV name, or "disk". */
  key: string;
  /** "partition 1", "LV vg/root", "whole disk". */
  label: string;
  /** Detected content: ext4, fat32, ntfs, swap, lvm2_pv, unknown, … */
  type: string;
  size: number;
  /** Its files can be listed (a reader exists and the volume has no problem). */
  readable: boolean;
  problem?: string;
}

export type GuestFileType = 'file' | 'dir' | 'symlink' | 'other';

export interface GuestEntry {
  name: string;
  type: GuestFileType;
  /** Bytes, when known (stat is skipped in very large directories). */
  size?: number;
  /** Modified time, ms since the epoch, when known. */
  mtime?: number;
}

/** What the Files tab asks the host to do with a guest file. */
export type GuestFileAction = 'open' | 'hex' | 'copyPath' | 'saveCopy' | 'extents';
export const GUEST_FILE_ACTIONS: readonly GuestFileAction[] = ['open', 'hex', 'copyPath', 'saveCopy', 'extents'];
/** Longest guest path a message may carry (Linux PATH_MAX). */
export const MAX_GUEST_PATH = 4096;
/** Most entries of one directory sent to the Files tab. */
export const MAX_GUEST_ENTRIES = 20000;

export interface EditorSettings {
  sectorSize: number;
}
