/** The webview is untrusted: every message is checked field by field, unknown types are rejected. */
import * as assert from 'node:assert/strict';
import fc from 'fast-check';
import { validateWebviewMessage } from '../../src/extension/messages';
import { MAX_MAP_BUCKETS, MAX_READ_BYTES, MAX_RUN_ROWS } from '../../src/shared/protocol';

const VSIZE = 1 << 30;
const ok = (m: unknown) => validateWebviewMessage(m, VSIZE, 2);

describe('extension: webview message validation', () => {
  it('accepts well-formed messages of every type', () => {
    const good: unknown[] = [
      { type: 'ready' },
      { type: 'runCheck' },
      { type: 'repairLeaks' },
      { type: 'requestUsage' },
      { type: 'requestMap', requestId: 1, start: 0, end: VSIZE, buckets: 4096 },
      { type: 'requestRuns', requestId: 2, from: 4096, count: 20 },
      { type: 'requestRuns', requestId: 3, from: 4096, count: -20 },
      { type: 'requestMapping', requestId: 4, offset: VSIZE - 1 },
      { type: 'requestMapping', requestId: 4, offset: 4096, cellEnd: 8192, kind: 'data', depth: 2 },
      { type: 'hexRead', requestId: 5, offset: 0, length: 512 },
      { type: 'hexRead', requestId: 6, offset: VSIZE - 16, length: 16 },
      { type: 'openLayer', depth: 2 },
      { type: 'viewChanged', view: 'map' },
      { type: 'copyText', text: '0x1000' },
      { type: 'hexEdit', offset: 510, data: new Uint8Array([0x55, 0xaa]), label: 'boot signature' },
    ];
    for (const m of good) {
      const v = ok(m);
      assert.ok(v.ok, `${JSON.stringify(m)}: ${v.ok ? '' : v.reason}`);
      assert.deepEqual(v.msg, m);
    }
  });

  it('rejects unknown types, non-objects and extra fields', () => {
    for (const m of [
      null,
      42,
      'ready',
      [],
      {},
      { type: 7 },
      { type: 'writeFile', path: '/etc/passwd' },
      { type: 'ready', extra: 1 },
      { type: '__proto__' },
      { type: 'requestBytes', requestId: 1, offset: 0, length: 1 },
      { type: 'hexGoto', offset: 0 },
    ]) {
      assert.equal(ok(m).ok, false, JSON.stringify(m));
    }
  });

  it('rejects out-of-range or mistyped offsets, lengths, counts and kinds', () => {
    const bad: unknown[] = [
      { type: 'requestMap', requestId: 1, start: 0, end: VSIZE + 1, buckets: 10 },
      { type: 'requestMap', requestId: 1, start: 10, end: 10, buckets: 10 },
      { type: 'requestMap', requestId: 1, start: 0, end: VSIZE, buckets: MAX_MAP_BUCKETS + 1 },
      { type: 'requestMap', requestId: 1, start: -1, end: VSIZE, buckets: 1 },
      { type: 'requestMap', requestId: 1, start: 0.5, end: VSIZE, buckets: 1 },
      { type: 'requestMap', requestId: '1', start: 0, end: VSIZE, buckets: 1 },
      { type: 'requestRuns', requestId: 1, from: VSIZE, count: 1 },
      { type: 'requestRuns', requestId: 1, from: 0, count: 0 },
      { type: 'requestRuns', requestId: 1, from: 0, count: MAX_RUN_ROWS + 1 },
      { type: 'hexRead', requestId: 1, offset: 0, length: MAX_READ_BYTES + 1 },
      { type: 'hexRead', requestId: 1, offset: VSIZE - 10, length: 11 },
      { type: 'hexRead', requestId: 1, offset: 2 ** 60, length: 1 },
      { type: 'hexRead', requestId: 1, offset: Number.NaN, length: 1 },
      { type: 'openLayer', depth: 3 },
      { type: 'requestMapping', requestId: 1, offset: 4096, cellEnd: 4096, kind: 'data', depth: 0 },
      { type: 'requestMapping', requestId: 1, offset: 0, cellEnd: 512, kind: '<b>', depth: 0 },
      { type: 'requestMapping', requestId: 1, offset: 0, cellEnd: 512, kind: 'data', depth: 3 },
      { type: 'requestMapping', requestId: 1, offset: 0, cellEnd: 512 },
      { type: 'viewChanged', view: 'settings' },
      { type: 'hexEdit', offset: 0, data: '***' },
      { type: 'hexEdit', offset: 0, data: 'AA==' },
      { type: 'hexEdit', offset: 0, data: [1, 2] },
      { type: 'hexEdit', offset: 0, data: new Uint16Array([1, 2]) },
      { type: 'hexEdit', offset: 0, data: new Uint8Array(0) },
      { type: 'hexEdit', offset: VSIZE - 1, data: new Uint8Array([1, 2]) },
      { type: 'hexEdit', offset: 0, data: new Uint8Array(64 * 1024 + 1) },
      { type: 'hexEdit', offset: 0, data: new Uint8Array(1), label: 'x'.repeat(1000) },
    ];
    for (const m of bad) assert.equal(ok(m).ok, false, JSON.stringify(m));
  });

  it('never throws and never accepts a range outside the disk, whatever the input', () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            type: fc.constantFrom('requestBytes', 'hexRead', 'requestMap', 'requestRuns', 'hexEdit', 'bogus'),
            requestId: fc.oneof(fc.integer(), fc.double(), fc.string()),
            offset: fc.oneof(fc.integer({ min: -10, max: VSIZE + 10 }), fc.double(), fc.constant(2 ** 53)),
            length: fc.oneof(fc.integer({ min: -10, max: 2 * MAX_READ_BYTES }), fc.double()),
            start: fc.integer({ min: -10, max: VSIZE + 10 }),
            end: fc.integer({ min: -10, max: VSIZE + 10 }),
            buckets: fc.integer({ min: -1, max: 10000 }),
            from: fc.integer({ min: -1, max: VSIZE + 1 }),
            count: fc.integer({ min: -1000, max: 1000 }),
            data: fc.oneof(fc.base64String({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 })),
          },
          { requiredKeys: ['type'] },
        ),
        (m) => {
          const v = ok(m);
          if (!v.ok) return;
          const x = v.msg as { offset?: number; length?: number; start?: number; end?: number };
          if (x.offset !== undefined && x.length !== undefined) assert.ok(x.offset + x.length <= VSIZE);
          if (x.start !== undefined && x.end !== undefined) assert.ok(x.start < x.end && x.end <= VSIZE);
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('extension: Files tab message validation', () => {
  it('accepts volume, directory, action and owner requests', () => {
    for (const m of [
      { type: 'fsVolumes', requestId: 1 },
      { type: 'fsList', requestId: 2, volume: '1', path: '/' },
      { type: 'fsList', requestId: 3, volume: 'lv_root', path: '/etc/ssh' },
      { type: 'fsList', requestId: 4, volume: 'disk', path: '/name with spaces é' },
      { type: 'fsAction', action: 'open', volume: '2', path: '/etc/hosts' },
      { type: 'fsAction', action: 'hex', volume: '2', path: '/etc/hosts' },
      { type: 'fsAction', action: 'copyPath', volume: '2', path: '/etc' },
      { type: 'fsAction', action: 'saveCopy', volume: 'root.lv-1', path: '/boot/vmlinuz' },
      { type: 'fsAction', action: 'extents', volume: '1', path: '/var/log/syslog' },
      { type: 'fsOwner', requestId: 5, offset: VSIZE - 1 },
      { type: 'fsMetadata', requestId: 6 },
    ]) {
      const v = ok(m);
      assert.ok(v.ok, `${JSON.stringify(m)}: ${v.ok ? '' : v.reason}`);
      assert.deepEqual(v.msg, m);
    }
  });

  it('rejects relative or dotted paths, odd volume names, unknown actions and offsets past the disk', () => {
    for (const m of [
      { type: 'fsList', requestId: 1, volume: '1', path: 'etc' },
      { type: 'fsList', requestId: 1, volume: '1', path: '/etc/../../x' },
      { type: 'fsList', requestId: 1, volume: '1', path: '/etc/./x' },
      { type: 'fsList', requestId: 1, volume: '1', path: '/a\0b' },
      { type: 'fsList', requestId: 1, volume: '1', path: '/' + 'x'.repeat(5000) },
      { type: 'fsList', requestId: 1, volume: '../1', path: '/' },
      { type: 'fsList', requestId: 1, volume: '', path: '/' },
      { type: 'fsList', requestId: 1, volume: '1/2', path: '/' },
      { type: 'fsList', requestId: 1, volume: '1', path: '/', extra: true },
      { type: 'fsAction', action: 'delete', volume: '1', path: '/etc/hosts' },
      { type: 'fsAction', action: 'open', volume: 1, path: '/etc/hosts' },
      { type: 'fsOwner', requestId: 1, offset: VSIZE },
      { type: 'fsOwner', requestId: 1, offset: -1 },
      { type: 'fsVolumes' },
      { type: 'fsMetadata' },
      { type: 'fsMetadata', requestId: 1, volume: '1' },
    ]) {
      assert.equal(ok(m).ok, false, JSON.stringify(m));
    }
  });
});
