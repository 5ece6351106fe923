/**
 * One request/reply helper for the webview (in the spirit of vscode-hexeditor's MessageHandler): a request carries
 * a fresh id, and the host's reply of the expected type with that id (or an `error` with it) settles the promise.
 * Replies never reach the other message handlers. The host still validates every request (src/extension/messages.ts).
 */
import type { HostMessage, WebviewMessage } from '../src/shared/protocol';

type ReplyType = HostMessage['type'];
export type Reply<T extends ReplyType> = Extract<HostMessage, { type: T }>;

/** The id a host message answers: its own `requestId`, or its data's. */
function answeredId(m: HostMessage): number | undefined {
  const top = (m as { requestId?: unknown }).requestId;
  if (typeof top === 'number') return top;
  const inner = (m as { data?: { requestId?: unknown } }).data?.requestId;
  return typeof inner === 'number' ? inner : undefined;
}

interface Waiting {
  type: ReplyType;
  resolve(m: HostMessage): void;
  reject(e: Error): void;
}

/** Request ids counting up from `first` (one source per channel: see Requester's constructor). */
export function idSource(first: number): () => number {
  let next = first;
  return () => next++;
}

export class Requester {
  private readonly waiting = new Map<number, Waiting>();

  constructor(
    private readonly send: (msg: WebviewMessage) => void,
    /** Hands out request ids: requesters sharing one channel must share one source, so that no two ids meet. */
    private readonly newId: () => number,
  ) {}

  /** Posts the message `build` makes with a fresh id, and resolves with the host's `reply` to it. */
  request<T extends ReplyType>(build: (requestId: number) => WebviewMessage, reply: T): Promise<Reply<T>> {
    const id = this.newId();
    return new Promise<Reply<T>>((resolve, reject) => {
      this.waiting.set(id, { type: reply, resolve: resolve as (m: HostMessage) => void, reject });
      this.send(build(id));
    });
  }

  /** Settles the request a host message answers; true when it was such a reply (no one else should see it). */
  settle(m: HostMessage): boolean {
    const id = answeredId(m);
    const w = id === undefined ? undefined : this.waiting.get(id);
    if (!w || (m.type !== w.type && m.type !== 'error')) return false;
    this.waiting.delete(id!);
    if (m.type === 'error') w.reject(new Error(m.message));
    else w.resolve(m);
    return true;
  }

  /** Rejects everything still waiting (the view is closing). */
  dispose(why = 'closed'): void {
    for (const w of this.waiting.values()) w.reject(new Error(why));
    this.waiting.clear();
  }
}
