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
export * from './protocol-data';
import type {
  MapKind,
  ViewId,
  OverviewData,
  ChainLayerInfo,
  MapSummary,
  MapRun,
  MappingDetail,
  IntegrityReport,
  UsageData,
  FindMode,
  FindAction,
  FindStatus,
  FindHit,
  GuestFileRef,
  GuestVolumeInfo,
  GuestEntry,
  GuestFileAction,
  EditorSettings,
} from './protocol-data';

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
