/**
 * Host side of the hex view's Find widget (issue #12): runs the engine search (src/search) over the document's
 * device, with the unsaved hex edits applied, or over one guest file on it (hex-find-file.ts), and streams progress
 * and hits to the webview. One search at a time per editor: a new one cancels the one before. A cancel is answered
 * at once, and the scan stops at its next read window (AbortSignal); its last reads finish in the background (at
 * most a few windows).
 * No vscode import, so it is unit-tested directly.
 */
import { asQcow2Error } from '../qcow2';
import { GuestFsError } from '../guestfs/index';
import { compilePattern, fileTarget, PatternError, placeFileHits, searchDisk, type CompiledPattern, type SearchHit, type SearchTarget } from '../search';
import { FIND_RESULT_LIMIT, type FindHit, type HostMessage, type WebviewMessage } from '../shared/protocol';
import type { Overlay } from './hex-page';
import { lengthOnDisk, openGuestFile } from './hex-find-file';

type FindStart = Extract<WebviewMessage, { type: 'findStart' }>;

/** Bytes of context shown before a hit in its preview, and the preview's length. */
const PREVIEW_BEFORE = 8;
const PREVIEW_BYTES = 40;
/** Around a next/previous hit, other hits are looked up this far either way (more than a screen of rows). */
const NEAR_BYTES = 32 * 1024;
const NEAR_LIMIT = 512;
/**
 * Read window of the view's searches: smaller than the engine's default (4 MiB), so the extension host gets its
 * turn, and a cancel stops the scan, sooner (measured here: ~15 ms instead of ~60-130 ms; throughput alike).
 */
const WINDOW_BYTES = 1024 * 1024;
/** Progress and streamed hits go to the webview at most this often. */
const POST_INTERVAL_MS = 100;

export interface FindSource {
  dev: SearchTarget;
  journal?: Overlay;
  path: string;
}

/**
 * The device as the hex view shows it: pending edits applied on every read, and a zero or unallocated run that
 * holds an edit reported as data there (the search skips zero runs without reading them).
 */
export function withPendingEdits(dev: SearchTarget, journal: Overlay): SearchTarget {
  return {
    virtualSize: dev.virtualSize,
    async readAt(buf, offset) {
      const n = await dev.readAt(buf, offset);
      journal.overlay(offset, buf);
      return n;
    },
    async getMapping(offset) {
      const m = await dev.getMapping(offset);
      if (m.kind !== 'zero' && m.kind !== 'unallocated') return m;
      const pending = journal.pendingIn(offset, m.length);
      if (pending.length === 0) return m;
      const [at, length] = pending[0];
      if (at > offset) return { ...m, length: at - offset };
      return { ...m, kind: 'data', length, hostOffset: undefined };
    },
  };
}

export class HexFind {
  private current?: { id: number; ac: AbortController };

  constructor(
    private readonly post: (msg: HostMessage) => void,
    private readonly source: () => Promise<FindSource>,
  ) {}

  /** Cancels search `id` (any search when omitted). */
  cancel(id?: number): void {
    if (this.current && (id === undefined || id === this.current.id)) this.current.ac.abort();
  }

  async run(msg: FindStart): Promise<void> {
    this.current?.ac.abort();
    const me = { id: msg.searchId, ac: new AbortController() };
    this.current = me;
    const t0 = Date.now();
    const searchId = msg.searchId;
    const signal = me.ac.signal;
    signal.addEventListener('abort', () => this.post({ type: 'findDone', searchId, status: 'cancelled', elapsedMs: Date.now() - t0 }), { once: true });
    let path = '';
    try {
      const src = await this.source();
      path = src.path;
      const target = src.journal ? withPendingEdits(src.dev, src.journal) : src.dev;
      const pattern = compilePattern({ mode: msg.mode, source: msg.pattern, ignoreCase: !msg.matchCase });
      this.post({ type: 'findProgress', searchId, done: 0, total: Math.max(1, msg.end - msg.start) });
      const outcome = msg.file
        ? await this.findInFile(target, pattern, msg, signal)
        : msg.action === 'all'
          ? await this.findAll(target, pattern, msg, signal)
          : await this.findOne(target, pattern, msg, signal);
      if (!signal.aborted) this.post({ type: 'findDone', searchId, ...outcome, elapsedMs: Date.now() - t0 });
    } catch (err) {
      if (signal.aborted) return;
      const message = err instanceof PatternError || err instanceof GuestFsError ? err.message : asQcow2Error(err, path || undefined).message;
      this.post({ type: 'findDone', searchId, status: 'error', message, elapsedMs: Date.now() - t0 });
    } finally {
      if (this.current === me) this.current = undefined;
    }
  }

  private progress(searchId: number): (done: number, total: number) => void {
    let last = 0;
    return (done, total) => {
      const now = Date.now();
      if (now - last < POST_INTERVAL_MS) return;
      last = now;
      this.post({ type: 'findProgress', searchId, done, total });
    };
  }

  /**
   * Every hit in the scope, streamed in batches. `place` turns a batch into hits on the disk (the guest-file scope
   * maps file offsets there); `within` is what is searched (the disk, or the file).
   */
  private async findAll(
    target: SearchTarget,
    pattern: CompiledPattern,
    msg: FindStart,
    signal: AbortSignal,
    within: { dev: SearchTarget; start: number; end: number; place(hits: SearchHit[]): Promise<FindHit[]> } = {
      dev: target,
      start: msg.start,
      end: msg.end,
      place: async (hits) => withPreviews(target, hits),
    },
  ) {
    let pending: SearchHit[] = [];
    let sending = Promise.resolve();
    let lastSent = Date.now();
    const flush = () => {
      const batch = pending;
      pending = [];
      if (batch.length > 0) sending = sending.then(async () => this.post({ type: 'findHits', searchId: msg.searchId, hits: await within.place(batch) }));
    };
    const progress = this.progress(msg.searchId);
    const r = await searchDisk(within.dev, pattern, {
      start: within.start,
      end: within.end,
      limit: FIND_RESULT_LIMIT,
      windowBytes: WINDOW_BYTES,
      signal,
      onHit: (h) => pending.push(h),
      onProgress: (done, total) => {
        progress(done, total);
        if (Date.now() - lastSent >= POST_INTERVAL_MS) {
          lastSent = Date.now();
          flush();
        }
      },
    });
    flush();
    await sending;
    return { status: r.cancelled ? ('cancelled' as const) : r.limitReached ? ('limit' as const) : ('done' as const) };
  }

  /**
   * Every hit in one guest file, in file order (fragments joined, holes as zeros), each placed where it lies on the
   * guest disk. Hits in a hole or in inline data have no disk offset: they are counted, not listed.
   */
  private async findInFile(target: SearchTarget, pattern: CompiledPattern, msg: FindStart, signal: AbortSignal) {
    const file = await openGuestFile(target, msg.file!);
    let offDisk = 0;
    const place = async (hits: SearchHit[]): Promise<FindHit[]> => {
      const placed = await placeFileHits(hits, file.extents, target);
      const onDisk: SearchHit[] = [];
      const fileOffsets: number[] = [];
      for (const h of placed) {
        if (h.guestOffset === null || h.guestOffset >= target.virtualSize) offDisk++;
        else {
          const length = Math.min(lengthOnDisk(file.extents, h.fileOffset, h.length), target.virtualSize - h.guestOffset);
          onDisk.push({ offset: h.guestOffset, length, layer: h.layer, hostOffset: h.hostOffset });
          fileOffsets.push(h.fileOffset);
        }
      }
      return (await withPreviews(target, onDisk)).map((h, i) => ({ ...h, fileOffset: fileOffsets[i] }));
    };
    const outcome = await this.findAll(target, pattern, msg, signal, { dev: fileTarget(file.fs, file.path, file.size), start: 0, end: file.size, place });
    return offDisk > 0 ? { ...outcome, offDisk } : outcome;
  }

  /** Next or previous from the origin; when there is none that way, wraps round to the rest of the scope. */
  private async findOne(target: SearchTarget, pattern: CompiledPattern, msg: FindStart, signal: AbortSignal) {
    const forward = msg.action === 'next';
    const onProgress = this.progress(msg.searchId);
    const common = { limit: 1, windowBytes: WINDOW_BYTES, signal, onProgress, direction: forward ? ('forward' as const) : ('backward' as const) };
    let r = await searchDisk(target, pattern, { ...common, start: msg.start, end: msg.end, origin: msg.origin });
    let wrapped = false;
    if (r.hits.length === 0 && !r.cancelled) {
      // The rest of the scope: forwards, hits starting before the origin; backwards, hits starting at or after it.
      const longest = pattern.kind === 'fixed' ? pattern.length : pattern.maxLength;
      const rest = forward ? { start: msg.start, end: Math.min(msg.end, msg.origin + longest - 1) } : { start: msg.origin, end: msg.end };
      if (rest.end > rest.start) {
        r = await searchDisk(target, pattern, { ...common, ...rest });
        wrapped = r.hits.length > 0;
      }
    }
    if (r.cancelled) return { status: 'cancelled' as const };
    const hit = r.hits[0];
    if (hit) {
      this.post({ type: 'findHits', searchId: msg.searchId, hits: await withPreviews(target, [hit]) });
      const near = await searchDisk(target, pattern, {
        start: Math.max(msg.start, hit.offset - NEAR_BYTES),
        end: Math.min(msg.end, hit.offset + NEAR_BYTES),
        limit: NEAR_LIMIT,
        signal,
      });
      if (!near.cancelled && near.hits.length > 0)
        this.post({ type: 'findHits', searchId: msg.searchId, hits: near.hits.map((h) => ({ ...h, preview: '' })), near: true });
    }
    return { status: 'done' as const, wrapped };
  }
}

/** A few bytes around each hit as printable ASCII, for the results list. */
async function withPreviews(target: SearchTarget, hits: SearchHit[]): Promise<FindHit[]> {
  const out: FindHit[] = [];
  const buf = new Uint8Array(PREVIEW_BYTES);
  for (const h of hits) {
    const from = Math.max(0, h.offset - PREVIEW_BEFORE);
    const n = Math.min(PREVIEW_BYTES, target.virtualSize - from);
    const bytes = buf.subarray(0, n);
    await target.readAt(bytes, from);
    out.push({ offset: h.offset, length: h.length, layer: h.layer, hostOffset: h.hostOffset, preview: printableText(bytes) });
  }
  return out;
}

function printableText(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
  return s;
}
