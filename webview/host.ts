/** The link to the extension host: typed post, message subscriptions, persisted state. */
import type { HostMessage, WebviewMessage, WebviewState } from '../src/shared/protocol';

interface VsCodeApi {
  postMessage(msg: unknown): void;
  getState(): unknown;
  setState(s: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const api = acquireVsCodeApi();
const handlers = new Set<(m: HostMessage) => void>();
window.addEventListener('message', (e: MessageEvent) => {
  const m = e.data as HostMessage;
  if (!m || typeof m !== 'object' || typeof (m as { type?: unknown }).type !== 'string') return;
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

let nextId = 1;
export function requestId(): number {
  return nextId++;
}
