/** Requests from the hex view to the extension host over the editor shell's HexHost, matched by requestId. */
import type { GuestVolumeInfo, HexHost, HostMessage, MapRun } from '../../src/shared/protocol';
import type { FetchedRange } from './page-cache';
import { idSource, Requester } from '../requests';

/**
 * One id source for every link (the view's, and the early partition scan's, which may overlap in time); it starts
 * high so its ids never meet the shell's own requests over the same channel.
 */
export const linkIds = idSource(0x40000000);

export class HostLink {
  private readonly requests: Requester;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly host: HexHost,
    onOther: (msg: HostMessage) => void,
  ) {
    this.requests = new Requester((msg) => host.post(msg), linkIds);
    this.unsubscribe = host.onMessage((msg) => {
      if (!this.requests.settle(msg)) onOther(msg);
    });
  }

  async read(offset: number, length: number): Promise<FetchedRange> {
    const page = await this.requests.request((requestId) => ({ type: 'hexRead', requestId, offset, length }), 'hexPage');
    return {
      data: page.data,
      runs: page.runs.map((r: MapRun) => ({ start: r.start, length: r.length, kind: r.kind, depth: r.depth })),
      pending: page.pending,
    };
  }

  /** The guest disk's volumes (as the Files tab lists them). */
  async volumes(): Promise<GuestVolumeInfo[]> {
    return (await this.requests.request((requestId) => ({ type: 'fsVolumes', requestId }), 'fsVolumes')).volumes;
  }

  /** Pages and edits travel as Uint8Array, which VS Code transfers as binary (bench/webview-bytes.ts measured it against base64). */
  edit(offset: number, bytes: Uint8Array, label: string): void {
    // postMessage sends a view's whole ArrayBuffer: send a copy that holds just the edit.
    this.host.post({ type: 'hexEdit', offset, data: bytes.slice(), label });
  }

  copy(text: string): void {
    this.host.post({ type: 'copyText', text });
  }

  dispose(): void {
    this.unsubscribe();
    this.requests.dispose('hex view closed');
  }
}
