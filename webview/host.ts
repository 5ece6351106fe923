/** The link to the extension host: typed post, message subscriptions, persisted state. */
import type { HostMessage, WebviewMessage, WebviewState } from '../src/shared/protocol';
import { idSource, Requester, type Reply } from './requests';

interface VsCodeApi {
  postMessage(msg: unknown): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const api = acquireVsCodeApi();
const handlers = new Set<(m: HostMessage) => void>();
const requests = new Requester((msg) => api.postMessage(msg), idSource(1));
window.addEventListener('message', (e: MessageEvent) => {
  const m = e.data as HostMessage;
  if (!m || typeof m !== 'object' || typeof (m as { type?: unknown }).type !== 'string') return;
  if (requests.settle(m)) return;
  for (const h of [...handlers]) h(m);
});

export function post(msg: WebviewMessage): void {
  api.postMessage(msg);
}

export function onMessage(h: (m: HostMessage) => void): () => void {
  handlers.add(h);
  return () => handlers.delete(h);
}

export function loadState(): WebviewState {
  const s = api.getState() as WebviewState | undefined;
  return s && typeof s === 'object' && typeof s.view === 'string' ? s : { view: 'overview' };
}

let state: WebviewState = loadState();
export function getState(): WebviewState {
  return state;
}
export function updateState(patch: Partial<WebviewState>): void {
  state = { ...state, ...patch };
  api.setState(state);
}

/** Asks the host and resolves with its reply (an `error` reply rejects). */
export function request<T extends HostMessage['type']>(build: (requestId: number) => WebviewMessage, reply: T): Promise<Reply<T>> {
  return requests.request(build, reply);
}

/** A fresh id for a request answered by a stream of messages (the map summary), matched by the view itself. */
let nextStreamId = 0x20000000;
export function requestId(): number {
  return nextStreamId++;
}
