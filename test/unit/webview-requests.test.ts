/** The webview's request/reply helper: replies settle by id and type, errors reject, others pass through. */
import * as assert from 'node:assert/strict';
import { idSource, Requester } from '../../webview/requests';
import type { HostMessage, WebviewMessage } from '../../src/shared/protocol';

describe('webview request/reply helper', () => {
  const sent: WebviewMessage[] = [];
  const make = (start = 1) => new Requester((m) => sent.push(m), idSource(start));
  beforeEach(() => (sent.length = 0));

  it('resolves with the reply of the expected type that carries its id, top-level or in data', async () => {
    const r = make(7);
    const runs = r.request((requestId) => ({ type: 'requestRuns', requestId, from: 0, count: 3 }), 'mapRuns');
    const mapping = r.request((requestId) => ({ type: 'requestMapping', requestId, offset: 0 }), 'mapping');
    assert.deepEqual(
      sent.map((m) => (m as { requestId: number }).requestId),
      [7, 8],
    );
    assert.equal(r.settle({ type: 'mapRuns', requestId: 8, from: 0, runs: [], virtualSize: 1 }), false, 'id 8 waits for a mapping, not runs');
    assert.equal(r.settle({ type: 'mapRuns', requestId: 7, from: 0, runs: [], virtualSize: 1 }), true);
    assert.equal((await runs).requestId, 7);
    assert.equal(r.settle({ type: 'mapping', data: { requestId: 8 } } as unknown as HostMessage), true);
    assert.equal((await mapping).data.requestId, 8);
    assert.equal(r.settle({ type: 'mapRuns', requestId: 7, from: 0, runs: [], virtualSize: 1 }), false, 'settled once only');
  });

  it('rejects on an error reply with its id; other messages and unknown ids are not its business', async () => {
    const r = make();
    const p = r.request((requestId) => ({ type: 'hexRead', requestId, offset: 0, length: 16 }), 'hexPage');
    assert.equal(r.settle({ type: 'refresh' }), false);
    assert.equal(r.settle({ type: 'error', message: 'no request' }), false);
    assert.equal(r.settle({ type: 'error', requestId: 99, message: 'someone else' }), false);
    assert.equal(r.settle({ type: 'error', requestId: 1, message: 'read failed' }), true);
    await assert.rejects(p, /read failed/);
  });

  it('two requesters on one channel with one id source never hand out the same id', () => {
    const ids = idSource(100);
    const a = new Requester((m) => sent.push(m), ids);
    const b = new Requester((m) => sent.push(m), ids);
    void a.request((requestId) => ({ type: 'hexRead', requestId, offset: 0, length: 16 }), 'hexPage').catch(() => undefined);
    void b.request((requestId) => ({ type: 'hexRead', requestId, offset: 0, length: 16 }), 'hexPage').catch(() => undefined);
    assert.deepEqual(
      sent.map((m) => (m as { requestId: number }).requestId),
      [100, 101],
    );
    assert.equal(b.settle({ type: 'hexPage', requestId: 100, offset: 0, data: new Uint8Array(0), runs: [] }), false, "b does not take a's reply");
  });

  it('dispose rejects what is still waiting', async () => {
    const r = make();
    const p = r.request((requestId) => ({ type: 'hexRead', requestId, offset: 0, length: 16 }), 'hexPage');
    r.dispose('view closed');
    await assert.rejects(p, /view closed/);
  });
});
