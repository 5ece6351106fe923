/**
 * Validates messages from the webview, which is untrusted: every field is type- and range-checked, unknown
 * types and extra junk are rejected. No vscode import, so unit tests run it directly.
 */
import {
  FIND_MODES,
  MAX_EDIT_BYTES,
  MAX_FIND_PATTERN_CHARS,
  MAX_MAP_BUCKETS,
  MAX_READ_BYTES,
  MAX_RUN_ROWS,
  MAP_KIND_CODES,
  GUEST_FILE_ACTIONS,
  MAX_GUEST_PATH,
  VIEW_IDS,
  type FindAction,
  type FindMode,
  type GuestFileAction,
  type MapKind,
  type ViewId,
  type WebviewMessage,
} from '../shared/protocol';

export type Validated = { ok: true; msg: WebviewMessage } | { ok: false; reason: string };

const MAX_COPY_CHARS = 4 * 1024 * 1024;
const MAX_LABEL = 200;

class Invalid extends Error {}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function int(o: Record<string, unknown>, key: string, min: number, max: number): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new Invalid(`${key} must be an integer`);
  if (v < min || v > max) throw new Invalid(`${key} ${v} is outside ${min}..${max}`);
  return v;
}

function str(o: Record<string, unknown>, key: string, maxLen: number, optional = false): string | undefined {
  const v = o[key];
  if (v === undefined && optional) return undefined;
  if (typeof v !== 'string') throw new Invalid(`${key} must be a string`);
  if (v.length > maxLen) throw new Invalid(`${key} is longer than ${maxLen}`);
  return v;
}

function onlyKeys(o: Record<string, unknown>, keys: string[]): void {
  for (const k of Object.keys(o)) if (k !== 'type' && !keys.includes(k)) throw new Invalid(`unexpected field ${k}`);
}

/**
 * Takes bytes sent as a Uint8Array (VS Code's postMessage recreates typed arrays on the host side since 1.57);
 * throws Invalid on anything else. Returns a copy: the caller keeps nothing that aliases the message.
 */
function bytes(o: Record<string, unknown>, key: string, maxBytes: number): Uint8Array {
  const v = o[key];
  if (Object.prototype.toString.call(v) !== '[object Uint8Array]') throw new Invalid(`${key} must be a Uint8Array`);
  const b = v as Uint8Array;
  if (b.length > maxBytes) throw new Invalid(`${key} is longer than ${maxBytes} bytes`);
  return new Uint8Array(b);
}

/**
 * Checks a raw message. `virtualSize` bounds every guest offset and range; `chainDepth` bounds openLayer.
 */
export function validateWebviewMessage(raw: unknown, virtualSize: number, chainDepth = 64): Validated {
  try {
    return { ok: true, msg: check(raw, virtualSize, chainDepth) };
  } catch (err) {
    if (err instanceof Invalid) return { ok: false, reason: err.message };
    throw err;
  }
}

/** Layers the chain view can show (open.ts's MAX_CHAIN_DEPTH plus the image). */
const MAX_CHAIN_LAYERS = 65;

function check(raw: unknown, vsize: number, chainDepth: number): WebviewMessage {
  if (!isRecord(raw)) throw new Invalid('message is not an object');
  const type = raw.type;
  if (typeof type !== 'string') throw new Invalid('message has no type');
  const lastByte = Math.max(0, vsize - 1);
  switch (type) {
    case 'ready':
    case 'runCheck':
    case 'repairLeaks':
    case 'repairAll':
    case 'unlock':
    case 'requestUsage':
    case 'reopenWith':
      onlyKeys(raw, []);
      return { type };
    case 'requestMap': {
      onlyKeys(raw, ['requestId', 'start', 'end', 'buckets']);
      const requestId = int(raw, 'requestId', 0, Number.MAX_SAFE_INTEGER);
      const start = int(raw, 'start', 0, lastByte);
      const end = int(raw, 'end', start + 1, Math.max(vsize, 1));
      const buckets = int(raw, 'buckets', 1, MAX_MAP_BUCKETS);
      return { type, requestId, start, end, buckets };
    }
    case 'requestRuns': {
      onlyKeys(raw, ['requestId', 'from', 'count']);
      const requestId = int(raw, 'requestId', 0, Number.MAX_SAFE_INTEGER);
      const from = int(raw, 'from', 0, lastByte);
      // Negative counts ask for the rows before `from` (scrolling up).
      const count = int(raw, 'count', -MAX_RUN_ROWS, MAX_RUN_ROWS);
      if (count === 0) throw new Invalid('count must not be 0');
      return { type, requestId, from, count };
    }
    case 'requestMapping': {
      onlyKeys(raw, ['requestId', 'offset', 'cellEnd', 'kind', 'depth']);
      const requestId = int(raw, 'requestId', 0, Number.MAX_SAFE_INTEGER);
      const offset = int(raw, 'offset', 0, lastByte);
      if (raw.cellEnd === undefined && raw.kind === undefined && raw.depth === undefined) return { type, requestId, offset };
      // A map cell: all three, the kind one of the map's, the layer one of the chain's.
      const cellEnd = int(raw, 'cellEnd', offset + 1, Math.max(vsize, 1));
      const kind = str(raw, 'kind', 16)!;
      if (!(MAP_KIND_CODES as readonly string[]).includes(kind)) throw new Invalid('unknown kind');
      return { type, requestId, offset, cellEnd, kind: kind as MapKind, depth: int(raw, 'depth', 0, chainDepth) };
    }
    case 'hexRead': {
      onlyKeys(raw, ['requestId', 'offset', 'length']);
      const requestId = int(raw, 'requestId', 0, Number.MAX_SAFE_INTEGER);
      const offset = int(raw, 'offset', 0, lastByte);
      const length = int(raw, 'length', 1, Math.min(MAX_READ_BYTES, vsize - offset));
      return { type, requestId, offset, length };
    }
    case 'openLayer':
      onlyKeys(raw, ['depth']);
      return { type, depth: int(raw, 'depth', 0, chainDepth) };
    case 'locateBacking':
      onlyKeys(raw, ['depth']);
      return { type, depth: int(raw, 'depth', 1, MAX_CHAIN_LAYERS) };
    case 'viewChanged': {
      onlyKeys(raw, ['view']);
      const view = raw.view;
      if (typeof view !== 'string' || !(VIEW_IDS as readonly string[]).includes(view)) throw new Invalid('unknown view');
      return { type, view: view as ViewId };
    }
    case 'copyText':
      onlyKeys(raw, ['text']);
      return { type, text: str(raw, 'text', MAX_COPY_CHARS)! };
    case 'hexEdit': {
      onlyKeys(raw, ['offset', 'data', 'label']);
      const offset = int(raw, 'offset', 0, lastByte);
      const data = bytes(raw, 'data', MAX_EDIT_BYTES);
      if (data.length === 0) throw new Invalid('edit is empty');
      if (offset + data.length > vsize) throw new Invalid('edit runs past the end of the disk');
      const label = str(raw, 'label', MAX_LABEL, true);
      return label === undefined ? { type, offset, data } : { type, offset, data, label };
    }
    case 'findStart': {
      onlyKeys(raw, ['searchId', 'mode', 'pattern', 'matchCase', 'start', 'end', 'origin', 'action', 'file']);
      const searchId = int(raw, 'searchId', 0, Number.MAX_SAFE_INTEGER);
      const mode = str(raw, 'mode', 8)!;
      if (!(FIND_MODES as readonly string[]).includes(mode)) throw new Invalid('unknown find mode');
      const pattern = str(raw, 'pattern', MAX_FIND_PATTERN_CHARS)!;
      if (typeof raw.matchCase !== 'boolean') throw new Invalid('matchCase must be a boolean');
      const start = int(raw, 'start', 0, vsize);
      const end = int(raw, 'end', start, vsize);
      const origin = int(raw, 'origin', start, end);
      const action = str(raw, 'action', 8)!;
      if (!['next', 'previous', 'all'].includes(action)) throw new Invalid('unknown find action');
      const found = { type, searchId, mode: mode as FindMode, pattern, matchCase: raw.matchCase, start, end, origin, action: action as FindAction };
      if (raw.file === undefined) return found;
      // A guest file is searched whole, in file order: no disk range, and only "find all" (the view steps through it).
      const file = raw.file;
      if (!isRecord(file)) throw new Invalid('file must be an object');
      onlyKeys(file, ['volume', 'path']);
      if (start !== 0 || end !== 0 || origin !== 0) throw new Invalid('a guest-file search takes no disk range');
      if (action !== 'all') throw new Invalid('a guest-file search is a find all');
      return { ...found, file: { volume: volumeKey(file), path: guestPath(file) } };
    }
    case 'findCancel':
      onlyKeys(raw, ['searchId']);
      return { type, searchId: int(raw, 'searchId', 0, Number.MAX_SAFE_INTEGER) };
    case 'fsVolumes':
    case 'fsMetadata':
      onlyKeys(raw, ['requestId']);
      return { type, requestId: int(raw, 'requestId', 0, Number.MAX_SAFE_INTEGER) };
    case 'fsList': {
      onlyKeys(raw, ['requestId', 'volume', 'path']);
      const requestId = int(raw, 'requestId', 0, Number.MAX_SAFE_INTEGER);
      return { type, requestId, volume: volumeKey(raw), path: guestPath(raw) };
    }
    case 'fsAction': {
      onlyKeys(raw, ['action', 'volume', 'path']);
      const action = str(raw, 'action', 16)!;
      if (!(GUEST_FILE_ACTIONS as readonly string[]).includes(action)) throw new Invalid('unknown action');
      return { type, action: action as GuestFileAction, volume: volumeKey(raw), path: guestPath(raw) };
    }
    case 'fsOwner': {
      onlyKeys(raw, ['requestId', 'offset']);
      return { type, requestId: int(raw, 'requestId', 0, Number.MAX_SAFE_INTEGER), offset: int(raw, 'offset', 0, lastByte) };
    }
    default:
      throw new Invalid(`unknown message type ${JSON.stringify(type.slice(0, 40))}`);
  }
}

/** A volume key: a partition number, an LV name (LVM allows [A-Za-z0-9+_.-]), or "disk". */
function volumeKey(o: Record<string, unknown>): string {
  const v = str(o, 'volume', 128)!;
  if (!/^[A-Za-z0-9+_.-]+$/.test(v)) throw new Invalid('volume is not a partition number or LV name');
  return v;
}

/** An absolute guest path without NUL and without '.' or '..' components. */
function guestPath(o: Record<string, unknown>): string {
  const p = str(o, 'path', MAX_GUEST_PATH)!;
  if (!p.startsWith('/') || p.includes('\0') || p.split('/').some((c) => c === '.' || c === '..')) throw new Invalid('path is not an absolute guest path');
  return p;
}
