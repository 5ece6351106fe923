/** Requests from the hex view to the extension host over the editor shell's HexHost, matched by requestId. */
import type { HexHost, HostMessage, MapRun } from '../../src/shared/protocol';
import type { FetchedRange } from './page-cache';

export function fromBase64(s: string): Uint8Array {
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

export function toBase64(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 0x8000) s += String.fromCharCode(...b.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Request ids start high so they never collide with the shell's own requests. */
let nextId = 0x40000000;

export class HostLink {
  private readonly waiting = new Map<number, { resolve: (r: FetchedRange) => void; reject: (e: Error) => void }>();
  private readonly unsubscribe: () => void;

  constructor(
    private readonly host: HexHost,
    onOther: (msg: HostMessage) => void,
  ) {
    this.unsubscribe = host.onMessage((msg) => {
      if (msg.type === 'hexPage') {
        const w = this.waiting.get(msg.requestId);
        if (!w) return;
        this.waiting.delete(msg.requestId);
        w.resolve({
          data: fromBase64(msg.data),
          runs: msg.runs.map((r: MapRun) => ({ start: r.start, length: r.length, kind: r.kind, depth: r.depth })),
          pending: msg.pending,
        });
      } else if (msg.type === 'error' && msg.requestId !== undefined && this.waiting.has(msg.requestId)) {
        const w = this.waiting.get(msg.requestId)!;
        this.waiting.delete(msg.requestId);
        w.reject(new Error(msg.message));
      } else {
        onOther(msg);
      }
    });
  }

  read(offset: number, length: number): Promise<FetchedRange> {
    const requestId = nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(requestId, { resolve, reject });
      this.host.post({ type: 'hexRead', requestId, offset, length });
    });
  }

  edit(offset: number, bytes: Uint8Array, label: string): void {
    this.host.post({ type: 'hexEdit', offset, data: toBase64(bytes), label });
  }

  copy(text: string): void {
    this.host.post({ type: 'copyText', text });
  }

  dispose(): void {
    this.unsubscribe();
    for (const w of this.waiting.values()) w.reject(new Error('hex view closed'));
    this.waiting.clear();
  }
}
