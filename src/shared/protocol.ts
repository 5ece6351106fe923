/**
 * The typed protocol between the extension host (src/extension) and the custom editor's webview (webview/).
 * Everything the webview sends is untrusted: the host validates each message (src/extension/messages.ts)
 * before acting on it. Everything the host sends may carry strings from the image: the webview renders them
 * as text only (textContent), never as HTML.
 *
 * Ownership: H4 (custom editor) owns this file; the "Hex view" section is shared with H6 (hex view), who may
 * add fields and message types there.
 */
import type { ExtentOverlay, GuestRange } from './extent-overlay';

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

// ---------------------------------------------------------------------------------------------------------
// Data shapes
// ---------------------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------------------
// Host → webview
// ---------------------------------------------------------------------------------------------------------

export type HostMessage =
  | {
      type: 'init';
      fileName: string;
      editable: boolean;
      /** Why the editor is read-only, when it is (untrusted workspace, read-only variant, setting). */
      readOnlyReason?: string;
      settings: EditorSettings;
      /** Localised UI strings, keyed by their English text. */
      strings: Record<string, string>;
    }
  | { type: 'notQcow2'; fileName: string; message: string }
  | { type: 'openError'; message: string }
  | { type: 'overview'; data: OverviewData }
  | { type: 'chain'; layers: ChainLayerInfo[] }
  | { type: 'mapSummary'; data: MapSummary }
  | { type: 'mapRuns'; requestId: number; from: number; runs: MapRun[]; virtualSize: number }
  | { type: 'mapping'; data: MappingDetail }
  | { type: 'integrity'; report: IntegrityReport }
  | { type: 'integrityRunning'; running: boolean }
  | { type: 'usage'; data: UsageData }
  | { type: 'showView'; view: ViewId; offset?: number; /** Integrity: the finding to show (-1: the broken chain). */ finding?: number }
  | { type: 'settings'; settings: EditorSettings }
  | { type: 'refresh' }
  | { type: 'error'; requestId?: number; message: string }
  // Hex view (H6)
  | {
      type: 'hexPage';
      requestId: number;
      offset: number;
      /** The guest bytes (an ArrayBuffer-backed view, which VS Code's postMessage transfers as binary since 1.57). */ data: Uint8Array;
      runs: MapRun[];
      /** Unsaved edits in the page, [offset, length] pairs. */ pending?: Array<[number, number]>;
    }
  | { type: 'hexEdited'; dirty: boolean }
  | { type: 'hexSaved' }
  /** Whether hex edits can be saved now; `blocked` says why not (the hex view then takes no edits). */
  | { type: 'hexWritable'; blocked?: string }
  // Hex view: Find (issue #12). Every message names the search it belongs to; stale ones are dropped.
  | { type: 'findProgress'; searchId: number; done: number; total: number }
  /** Hits in search order; `near`: hits around a next/previous hit, for highlighting only. */
  | { type: 'findHits'; searchId: number; hits: FindHit[]; near?: boolean }
  | {
      type: 'findDone';
      searchId: number;
      status: FindStatus;
      /** Next/previous went round the scope's end. */ wrapped?: boolean;
      /** Guest-file scope: hits not listed because they lie in a hole or in inline data, not on the disk. */ offDisk?: number;
      message?: string;
      elapsedMs: number;
    }
  // Files tab and the hex inspector's owner row
  | { type: 'fsVolumes'; requestId: number; volumes: GuestVolumeInfo[]; warnings: string[] }
  | {
      type: 'fsList';
      requestId: number;
      volume: string;
      path: string;
      entries: GuestEntry[];
      /** Entries left out beyond MAX_GUEST_ENTRIES. */ truncated: number;
    }
  /** What the guest-disk byte at `offset` belongs to, as one line ("/etc/hosts, offset 0x0", "free space"). */
  | {
      type: 'fsOwner';
      requestId: number;
      offset: number;
      text: string;
      /** The volume it lies in ("partition 1 (ext4)"). */
      volume?: string;
      /** When a file or directory owns the byte: where the Files tab shows it. */
      file?: { volume: string; path: string };
    }
  /** "Show extents on the map": one guest file's extents, joined to at most MAX_OVERLAY_RANGES (extent-overlay.ts). */
  | { type: 'fileExtents'; overlay: ExtentOverlay }
  /** Where the guest file systems' metadata lies on the disk, joined to at most MAX_OVERLAY_RANGES ranges. */
  | {
      type: 'fsMetadata';
      requestId: number;
      ranges: GuestRange[];
      /** Ranges joined over to stay within the bound. */ joined: number;
      /** File systems that could not be read, one line each. */ errors: string[];
    };

// ---------------------------------------------------------------------------------------------------------
// Webview → host (untrusted; validated by src/extension/messages.ts)
// ---------------------------------------------------------------------------------------------------------

export type WebviewMessage =
  | { type: 'ready' }
  | { type: 'requestMap'; requestId: number; start: number; end: number; buckets: number }
  | { type: 'requestRuns'; requestId: number; from: number; count: number }
  /**
   * The mapping at `offset`; with `cellEnd`, `kind` and `depth` (a map cell [offset, cellEnd) painted with that kind
   * and layer): the whole run of that kind and layer in the cell, not cut at the cell's edges.
   */
  | { type: 'requestMapping'; requestId: number; offset: number; cellEnd?: number; kind?: MapKind; depth?: number }
  | { type: 'runCheck' }
  | { type: 'repairLeaks' }
  | { type: 'repairAll' }
  | { type: 'locateBacking'; depth: number }
  /** "Unlock…" on an encrypted image: the host asks for the passphrase itself. */
  | { type: 'unlock' }
  | { type: 'requestUsage' }
  | { type: 'openLayer'; depth: number }
  | { type: 'viewChanged'; view: ViewId }
  | { type: 'copyText'; text: string }
  /** "Reopen With…" from the error page (not a qcow2 image, empty file). */
  | { type: 'reopenWith' }
  // Hex view (H6)
  | { type: 'hexRead'; requestId: number; offset: number; length: number }
  | { type: 'hexEdit'; offset: number; /** The new bytes (sent as binary, as hexPage's). */ data: Uint8Array; label?: string }
  /**
   * Find in the guest disk, within [start, end): 'next' the first hit at or after `origin` (then wrapping to the
   * scope's start), 'previous' the last hit before `origin` (then wrapping to the end), 'all' every hit up to
   * FIND_RESULT_LIMIT. A new search of the same editor cancels the one before.
   * With `file`, the search covers that guest file in file order instead (start, end and origin are 0, the action
   * is 'all'), and each hit is placed where its first byte lies on the guest disk.
   */
  | {
      type: 'findStart';
      searchId: number;
      mode: FindMode;
      pattern: string;
      matchCase: boolean;
      start: number;
      end: number;
      origin: number;
      action: FindAction;
      file?: GuestFileRef;
    }
  | { type: 'findCancel'; searchId: number }
  // Files tab and the hex inspector's owner row
  | { type: 'fsVolumes'; requestId: number }
  | { type: 'fsList'; requestId: number; volume: string; path: string }
  | { type: 'fsAction'; action: GuestFileAction; volume: string; path: string }
  | { type: 'fsOwner'; requestId: number; offset: number }
  | { type: 'fsMetadata'; requestId: number };

export type WebviewMessageType = WebviewMessage['type'];

/** The state the webview keeps with setState/getState (restored when the tab is shown again). */
export interface WebviewState {
  view: ViewId;
  map?: { start: number; end: number; runsFrom: number };
  /** The map's extents overlay, kept while the tab is hidden (the webview is not retained). */
  mapExtents?: ExtentOverlay;
  /** The hex view's own state (H6). */
  hex?: unknown;
}

/** What the hex view (webview/hex, H6) receives from the editor shell. */
export interface HexHost {
  post(msg: WebviewMessage): void;
  /** Subscribes to host messages; returns an unsubscribe function. */
  onMessage(handler: (msg: HostMessage) => void): () => void;
  editable: boolean;
  /** Why edits cannot be saved, as last reported by the host ('hexWritable'). */
  writeBlocked?: string;
  settings: EditorSettings;
  virtualSize: number;
  getState(): unknown;
  setState(state: unknown): void;
}
