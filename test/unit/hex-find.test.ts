/**
 * The hex view's Find (#12): the webview's model (hit list, wrap-around, limit, row marks, scopes), the validation
 * of its messages, and the host side (hex-find.ts) against images made by qemu-img, checked against a Node scan
 * of the raw bytes: next / previous with wrap-around, find all with previews, pending edits, errors and cancel.
 */
import * as assert from 'node:assert/strict';
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { FindResults, MARK_CURRENT, MARK_HIT, parseFileChoice, partitionAt, queryKey, scopeRange } from '../../webview/hex/find-model';
import { HexFind, withPendingEdits } from '../../src/extension/hex-find';
import fc from 'fast-check';
import { validateWebviewMessage } from '../../src/extension/messages';
import { openImage, type Qcow2Dev } from '../../src/qcow2';
import type { FindHit, HostMessage, WebviewMessage } from '../../src/shared/protocol';
import { FIND_RESULT_LIMIT, MAX_FIND_PATTERN_CHARS } from '../../src/shared/protocol';
import type { PartitionTable } from '../../src/shared/partitions';
import { qemuImg, scratchDir } from '../helpers/qemu';
import { debugfs, debugfsDump, makeDisk, makeExt } from '../helpers/guestfs-fixtures';
import { hitCells } from '../../webview/views/map-hits';
import { allSummary, hitRow } from '../../webview/hex/find-results';
import type { MapSummary } from '../../src/shared/protocol';

const hit = (offset: number, length = 4): FindHit => ({ offset, length, layer: 0, hostOffset: null, preview: '' });

const TABLE = {
  scheme: 'gpt',
  sectorSize: 512,
  partitions: [
    { number: 1, name: 'boot', type: '', typeName: 'Linux', firstLba: 2048, lastLba: 4095, start: 2048 * 512, end: 4096 * 512 },
    { number: 2, name: '', type: '', typeName: 'Linux', firstLba: 4096, lastLba: 8191, start: 4096 * 512, end: 8192 * 512 },
  ],
  warnings: [],
} as unknown as PartitionTable;

describe('hex find: model', () => {
  it('steps through a complete list with wrap-around both ways', () => {
    const r = new FindResults();
    r.addAll([hit(100), hit(200), hit(300)]);
    assert.equal(r.step(0, true), undefined, 'an incomplete list is not used (the host searches)');
    r.complete = true;
    assert.deepEqual(r.step(0, true), { hit: r.all[0], index: 0, wrapped: false });
    r.select(r.all[0]);
    assert.equal(r.step(100, true)?.index, 1, 'next after the current hit, not the hit itself');
    assert.equal(r.step(150, true)?.index, 1, 'next from a cursor between hits');
    r.select(r.all[2]);
    assert.deepEqual(r.step(300, true), { hit: r.all[0], index: 0, wrapped: true });
    assert.deepEqual(r.step(300, false), { hit: r.all[1], index: 1, wrapped: false });
    assert.deepEqual(r.step(100, false), { hit: r.all[2], index: 2, wrapped: true });
    assert.deepEqual(r.step(50, false), { hit: r.all[2], index: 2, wrapped: true });
    assert.equal(r.indexOfCurrent(), 2);
  });

  it('stops at the limit and says so; streamed batches out of order still end sorted', () => {
    const r = new FindResults(5);
    assert.equal(r.addAll([hit(10), hit(30)]), true);
    assert.equal(r.addAll([hit(20), hit(40), hit(50), hit(60)]), false);
    assert.deepEqual(
      r.all.map((h) => h.offset),
      [10, 20, 30, 40, 50],
    );
    assert.equal(r.limitReached, true);
    assert.equal(r.addAll([hit(70)]), false);
    assert.equal(r.all.length, 5);
    assert.equal(new FindResults().limit, FIND_RESULT_LIMIT);
    r.clear();
    assert.equal(r.all.length, 0);
    assert.equal(r.limitReached, false);
  });

  it('origin: past the current hit going forward, the cursor otherwise, inside the scope', () => {
    const r = new FindResults();
    assert.equal(r.origin(500, true, 0, 1000), 500);
    r.select(hit(500));
    assert.equal(r.origin(500, true, 0, 1000), 501);
    assert.equal(r.origin(500, false, 0, 1000), 500);
    assert.equal(r.origin(5, true, 100, 1000), 100);
    assert.equal(r.origin(2000, false, 0, 1000), 1000);
  });

  it('marks the bytes of hits in a row, the current one above the rest, hits reaching in from the row before', () => {
    const r = new FindResults();
    r.addAll([hit(14, 4), hit(40, 2)]);
    r.addNear([hit(70, 3)]);
    r.select(r.all[1]);
    const row0 = r.marks(0, 16)!;
    assert.deepEqual([...row0.subarray(12)], [0, 0, MARK_HIT, MARK_HIT]);
    const row1 = r.marks(16, 16)!;
    assert.deepEqual([...row1.subarray(0, 3)], [MARK_HIT, MARK_HIT, 0], 'the hit started in the row before');
    const row2 = r.marks(32, 16)!;
    assert.deepEqual([...row2.subarray(7, 11)], [0, MARK_CURRENT, MARK_CURRENT, 0]);
    assert.deepEqual([...r.marks(64, 16)!.subarray(5, 10)], [0, MARK_HIT, MARK_HIT, MARK_HIT, 0], 'hits near a next/previous hit');
    assert.equal(r.marks(96, 16), undefined, 'nothing allocated for a row without hits');
  });

  it('turns a scope into a byte range and names the partition of a hit', () => {
    assert.deepEqual(scopeRange({ kind: 'disk' }, 1 << 30, undefined, 0), { start: 0, end: 1 << 30 });
    assert.deepEqual(scopeRange({ kind: 'cursor' }, 1 << 30, undefined, 4096), { start: 4096, end: 1 << 30 });
    assert.deepEqual(scopeRange({ kind: 'partition', index: 1 }, 1 << 30, TABLE, 0), { start: 4096 * 512, end: 8192 * 512 });
    assert.ok('error' in scopeRange({ kind: 'partition', index: 5 }, 1 << 30, TABLE, 0));
    assert.ok('error' in scopeRange({ kind: 'partition', index: 1 }, 1 << 20, TABLE, 0), 'a partition past the end of the disk');
    assert.equal(partitionAt(TABLE, 2048 * 512), '1 boot');
    assert.equal(partitionAt(TABLE, 5000 * 512), '2');
    assert.equal(partitionAt(TABLE, 0), undefined);
    const q = { mode: 'text' as const, pattern: 'a', matchCase: false, scope: { kind: 'disk' as const } };
    assert.notEqual(queryKey(q), queryKey({ ...q, matchCase: true }));
    assert.notEqual(queryKey(q), queryKey({ ...q, scope: { kind: 'partition', index: 0 } }));
    assert.equal(queryKey(q), queryKey({ ...q }));
  });
});

describe('hex find: result texts', () => {
  it('a row names offset, LBA, partition and preview; the summary says when the limit stopped it', () => {
    const row = hitRow({ offset: 5000 * 512 + 3, length: 4, layer: 1, hostOffset: null, preview: '..root..' }, TABLE, 512);
    assert.deepEqual([row.offset, row.lba, row.partition, row.preview], [`0x${(5000 * 512 + 3).toString(16)}`, 'LBA 5000', 'p2', '..root..']);
    assert.match(row.title, /layer 1, host offset –/);
    assert.equal(hitRow({ ...hit(0), preview: '' }, TABLE, 512).partition, '');
    assert.match(allSummary('limit', FIND_RESULT_LIMIT), /stopped at the limit of 10.?000, there may be more/);
    assert.match(allSummary('cancelled', 3), /cancelled: 3 found/);
    assert.equal(allSummary('done', 0), 'No results');
  });
});

describe('hex find: hits on the map', () => {
  it('puts each hit in its cell once, and none outside the drawn range', () => {
    const s = { start: 1000, end: 1000 + 64 * 100, bucketBytes: 100 } as MapSummary;
    assert.deepEqual(hitCells([999, 1000, 1050, 1150, 1000 + 64 * 100, 1000 + 63 * 100 + 99], s, 64), [0, 1, 63]);
    assert.deepEqual(hitCells([1000 + 40 * 100], s, 32), [], 'past the cells the canvas shows');
  });
});

describe('hex find: messages', () => {
  const V = 1 << 30;
  const good = { type: 'findStart', searchId: 1, mode: 'text', pattern: 'root', matchCase: false, start: 0, end: V, origin: 10, action: 'next' };
  it('accepts a well-formed find and cancel', () => {
    assert.deepEqual(validateWebviewMessage(good, V), { ok: true, msg: good });
    assert.equal(validateWebviewMessage({ type: 'findCancel', searchId: 1 }, V).ok, true);
  });
  it('rejects bad fields', () => {
    const bad: unknown[] = [
      { ...good, mode: 'glob' },
      { ...good, action: 'replace' },
      { ...good, matchCase: 'yes' },
      { ...good, end: V + 1 },
      { ...good, start: 100, end: 50 },
      { ...good, origin: V + 1 },
      { ...good, start: 100, origin: 10 },
      { ...good, pattern: 'x'.repeat(MAX_FIND_PATTERN_CHARS + 1) },
      { ...good, pattern: 5 },
      { ...good, extra: 1 },
      { type: 'findCancel', searchId: -1 },
      { type: 'findCancel' },
    ];
    for (const m of bad) assert.equal(validateWebviewMessage(m, V).ok, false, JSON.stringify(m).slice(0, 100));
  });
  it('a guest-file find: a volume key and an absolute path, whole file, find all only', () => {
    const inFile = { ...good, start: 0, end: 0, origin: 0, action: 'all', file: { volume: '2', path: '/etc/hosts' } };
    assert.deepEqual(validateWebviewMessage(inFile, V), { ok: true, msg: inFile });
    const bad: unknown[] = [
      { ...inFile, file: '2:/etc/hosts' },
      { ...inFile, file: { volume: '2' } },
      { ...inFile, file: { volume: '2', path: 'etc/hosts' } },
      { ...inFile, file: { volume: '2', path: '/etc/../shadow' } },
      { ...inFile, file: { volume: '2', path: '/etc/hosts\0' } },
      { ...inFile, file: { volume: '../2', path: '/etc/hosts' } },
      { ...inFile, file: { volume: '2', path: '/x', extra: 1 } },
      { ...inFile, action: 'next' },
      { ...inFile, end: 10 },
      { ...inFile, file: { volume: '2', path: '/' + 'x'.repeat(5000) } },
    ];
    for (const m of bad) assert.equal(validateWebviewMessage(m, V).ok, false, JSON.stringify(m).slice(0, 100));
  });
  it('the view reads the path field as [N:]/path, with the chosen volume or the only readable one', () => {
    const vols = [
      { key: '1', label: 'partition 1', type: 'vfat', size: 1, readable: true },
      { key: '2', label: 'partition 2', type: 'ext4', size: 1, readable: true },
    ];
    assert.deepEqual(parseFileChoice('2:/etc/hosts', undefined, vols), { volume: '2', path: '/etc/hosts' });
    assert.deepEqual(parseFileChoice(' /etc/hosts ', '1', vols), { volume: '1', path: '/etc/hosts' });
    assert.deepEqual(parseFileChoice('/etc/hosts', undefined, vols.slice(1)), { volume: '2', path: '/etc/hosts' });
    for (const [text, re] of [
      ['', /Type the path/],
      ['etc/hosts', /Not an absolute/],
      ['2:/a/../b', /Not an absolute/],
      ['/etc/hosts', /Name the partition/],
    ] as const)
      assert.match((parseFileChoice(text, undefined, vols) as { error: string }).error, re);
  });
  it('never throws, and what it accepts lies inside the disk, whatever the input', () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            type: fc.constantFrom('findStart', 'findCancel'),
            searchId: fc.oneof(fc.integer(), fc.double(), fc.string()),
            mode: fc.oneof(fc.constantFrom('hex', 'text', 'utf16', 'regex'), fc.string()),
            pattern: fc.oneof(fc.string(), fc.integer()),
            matchCase: fc.oneof(fc.boolean(), fc.string()),
            start: fc.integer({ min: -10, max: V + 10 }),
            end: fc.integer({ min: -10, max: V + 10 }),
            origin: fc.oneof(fc.integer({ min: -10, max: V + 10 }), fc.double()),
            action: fc.oneof(fc.constantFrom('next', 'previous', 'all'), fc.string()),
            file: fc.oneof(
              fc.record({
                volume: fc.oneof(fc.constantFrom('1', 'disk', 'root'), fc.string()),
                path: fc.oneof(fc.constantFrom('/etc/hosts', '/a/../b'), fc.string()),
              }),
              fc.string(),
            ),
          },
          { requiredKeys: ['type'] },
        ),
        (m) => {
          const v = validateWebviewMessage(m, V);
          if (!v.ok || v.msg.type !== 'findStart') return;
          const x = v.msg;
          assert.ok(x.start >= 0 && x.start <= x.origin && x.origin <= x.end && x.end <= V);
          if (x.file) {
            assert.deepEqual([x.start, x.end, x.origin, x.action], [0, 0, 0, 'all']);
            assert.ok(x.file.path.startsWith('/') && !x.file.path.split('/').includes('..'));
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('hex find: host search (hex-find.ts) on images made by qemu-img', function () {
  this.timeout(60_000);
  const dir = scratchDir('q2i-hexfind-');
  const NEEDLE = 'Find-Me-42';
  const SIZE = 8 << 20;
  // Across a 4 KiB cluster boundary, in the middle, near the end.
  const AT = [0x1ffc, 0x345678, SIZE - 100];
  let dev: Qcow2Dev;
  let raw: Buffer;

  before(async () => {
    const rawPath = dir.path('disk.raw');
    execFileSync('truncate', ['-s', String(SIZE), rawPath]);
    const fd = openSync(rawPath, 'r+');
    for (const at of AT) writeSync(fd, Buffer.from(NEEDLE), 0, NEEDLE.length, at);
    writeSync(fd, Buffer.from('find-me-42'), 0, 10, 0x500000); // lower case: only without match case
    closeSync(fd);
    raw = readFileSync(rawPath);
    qemuImg(['convert', '-q', '-f', 'raw', '-O', 'qcow2', '-o', 'cluster_size=4096', rawPath, dir.path('disk.qcow2')]);
    dev = await openImage(dir.path('disk.qcow2'), { readOnly: true });
  });
  after(async () => {
    await dev?.close();
    dir.cleanup();
  });

  /** Runs one search to its end; returns what the host posted. */
  async function run(msg: Partial<Extract<WebviewMessage, { type: 'findStart' }>>, overlay?: Parameters<typeof withPendingEdits>[1]) {
    const posted: HostMessage[] = [];
    const find = new HexFind(
      (m) => posted.push(m),
      async () => ({ dev, journal: overlay, path: 'disk.qcow2' }),
    );
    await find.run({ type: 'findStart', searchId: 7, mode: 'text', pattern: NEEDLE, matchCase: true, start: 0, end: SIZE, origin: 0, action: 'next', ...msg });
    const hits = posted.flatMap((m) => (m.type === 'findHits' && !m.near ? m.hits : []));
    const near = posted.flatMap((m) => (m.type === 'findHits' && m.near ? m.hits : []));
    const done = posted.find((m) => m.type === 'findDone') as Extract<HostMessage, { type: 'findDone' }>;
    assert.ok(posted.every((m) => !('searchId' in m) || m.searchId === 7));
    return { hits, near, done };
  }

  /** Every start of `needle` in the raw bytes, by Node's own indexOf. */
  const reference = (needle: Buffer) => {
    const out: number[] = [];
    for (let i = raw.indexOf(needle); i >= 0; i = raw.indexOf(needle, i + 1)) out.push(i);
    return out;
  };

  it('next and previous, with wrap-around, match a scan of the raw bytes', async () => {
    assert.deepEqual(reference(Buffer.from(NEEDLE)), AT);
    let r = await run({ origin: 0 });
    assert.deepEqual([r.hits[0].offset, r.done.status, r.done.wrapped], [AT[0], 'done', false]);
    assert.match(r.hits[0].preview, /Find-Me-42/);
    assert.ok(r.near.some((h) => h.offset === AT[0]));
    r = await run({ origin: AT[0] + 1 });
    assert.equal(r.hits[0].offset, AT[1]);
    r = await run({ origin: AT[2] + 1 });
    assert.deepEqual([r.hits[0].offset, r.done.wrapped], [AT[0], true], 'past the last hit: round to the first');
    r = await run({ origin: AT[1], action: 'previous' });
    assert.equal(r.hits[0].offset, AT[0]);
    r = await run({ origin: AT[0], action: 'previous' });
    assert.deepEqual([r.hits[0].offset, r.done.wrapped], [AT[2], true], 'before the first hit: round to the last');
    r = await run({ origin: 0, start: AT[1] + 1, end: AT[2] });
    assert.deepEqual([r.hits.length, r.done.status], [0, 'done'], 'nothing in the scope');
  });

  it('find all: every hit in order with layer, host offset and preview; match case off finds both cases', async () => {
    let r = await run({ action: 'all' });
    assert.deepEqual(
      r.hits.map((h) => h.offset),
      AT,
    );
    assert.equal(r.done.status, 'done');
    for (const h of r.hits) {
      assert.equal(h.layer, 0);
      assert.equal(typeof h.hostOffset, 'number');
    }
    r = await run({ action: 'all', matchCase: false });
    assert.deepEqual(
      r.hits.map((h) => h.offset),
      [...AT.slice(0, 2), 0x500000, AT[2]],
    );
    r = await run({ action: 'all', mode: 'hex', pattern: Buffer.from(NEEDLE).toString('hex') });
    assert.deepEqual(
      r.hits.map((h) => h.offset),
      AT,
    );
  });

  it('searches the bytes as the hex view shows them: unsaved edits count, also in zero clusters', async () => {
    const edit = { offset: 0x600000, bytes: Buffer.from(NEEDLE) };
    const overlay = {
      overlay(offset: number, buf: Uint8Array) {
        const from = Math.max(offset, edit.offset);
        const to = Math.min(offset + buf.length, edit.offset + edit.bytes.length);
        for (let o = from; o < to; o++) buf[o - offset] = edit.bytes[o - edit.offset];
      },
      pendingIn(offset: number, length: number): Array<[number, number]> {
        return edit.offset < offset + length && edit.offset + edit.bytes.length > offset ? [[edit.offset, edit.bytes.length]] : [];
      },
    };
    assert.equal((await dev.getMapping(0x600000)).kind !== 'data', true, 'the edit is in a range that is not stored');
    const r = await run({ action: 'all' }, overlay);
    assert.deepEqual(
      r.hits.map((h) => h.offset),
      [...AT.slice(0, 2), 0x600000, AT[2]],
    );
  });

  it('find all stops at the limit and says so', async () => {
    const r = await run({ action: 'all', mode: 'hex', pattern: '00 00 00 00' });
    assert.equal(r.done.status, 'limit');
    assert.equal(r.hits.length, FIND_RESULT_LIMIT);
    assert.deepEqual(
      r.hits.slice(0, 3).map((h) => h.offset),
      [0, 1, 2],
    );
  });

  it('a bad pattern ends in one error line, never a hang', async () => {
    for (const [mode, pattern, re] of [
      ['hex', 'abc', /odd number/],
      ['hex', 'zz', /invalid hex digit/],
      ['text', '', /empty/],
    ] as const) {
      const r = await run({ mode, pattern });
      assert.equal(r.done.status, 'error');
      assert.match(r.done.message ?? '', re);
    }
  });

  it('cancel, and a new search, stop a whole-disk scan of a 16 GiB allocated image at once', async () => {
    const big = dir.path('big.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'preallocation=metadata', big, '16G']);
    const bigDev = await openImage(big, { readOnly: true });
    try {
      const posted: HostMessage[] = [];
      const find = new HexFind(
        (m) => posted.push(m),
        async () => ({ dev: bigDev, path: big }),
      );
      const base = { type: 'findStart' as const, mode: 'text' as const, pattern: 'absent', matchCase: true, start: 0, end: bigDev.virtualSize, origin: 0 };
      const first = find.run({ ...base, searchId: 1, action: 'all' });
      while (!posted.some((m) => m.type === 'findProgress' && m.done > 0)) await new Promise((r) => setTimeout(r, 5));
      // A new search cancels the one before.
      const second = find.run({ ...base, searchId: 2, action: 'next' });
      await first;
      const d1 = posted.find((m) => m.type === 'findDone' && m.searchId === 1);
      assert.equal(d1?.type === 'findDone' && d1.status, 'cancelled');
      await new Promise((r) => setTimeout(r, 50));
      const t0 = performance.now();
      find.cancel(2);
      const d2 = posted.find((m) => m.type === 'findDone' && m.searchId === 2);
      assert.equal(d2?.type === 'findDone' && d2.status, 'cancelled', 'answered at once');
      await second;
      const ms = performance.now() - t0;
      assert.equal(posted.filter((m) => m.type === 'findDone').length, 2, 'one answer per search');
      console.log(`      hex find: the scan stopped ${ms.toFixed(1)} ms after cancel`);
      assert.ok(ms < 1000, `the scan went on for ${ms} ms`);
    } finally {
      await bigDev.close();
    }
  });
});

describe('hex find: a guest-file scope (ext4 in a GPT disk, mke2fs and debugfs)', function () {
  this.timeout(120_000);
  const dir = scratchDir('q2i-hexfind-file-');
  const NEEDLE = 'Guest-File-Needle';
  const LOG = '/var/log/app.log';
  let dev: Qcow2Dev;
  let raw: Buffer;
  let fileBytes: Buffer;
  let fsStart: number;
  let fsImg: string;

  before(async () => {
    const tree = dir.path('tree');
    mkdirSync(join(tree, 'var/log'), { recursive: true });
    const log = Buffer.alloc(600 * 1024);
    for (let i = 0; i < log.length; i++) log[i] = 0x61 + ((i * 7919) % 26);
    // At the start, across a 4 KiB block, at the end.
    for (const at of [0, 4096 * 40 - 5, log.length - NEEDLE.length]) log.write(NEEDLE, at, 'latin1');
    writeFileSync(join(tree, LOG.slice(1)), log);
    writeFileSync(join(tree, 'other.txt'), `elsewhere: ${NEEDLE}\n`);
    // 4 KiB of data, an 8 KiB hole, 4 KiB of data (mke2fs -d keeps the hole).
    const sparse = join(tree, 'sparse.bin');
    writeFileSync(sparse, Buffer.alloc(4096, 'x'));
    const fd = openSync(sparse, 'r+');
    writeSync(fd, Buffer.alloc(4096, 'y'), 0, 4096, 12288);
    closeSync(fd);
    fsImg = makeExt(dir.path('fs.ext4'), tree, 'ext4', 8, ['-b', '4096']);
    fsStart = makeDisk(dir.path('disk.raw'), 'gpt', [fsImg])[0].start;
    qemuImg(['convert', '-q', '-f', 'raw', '-O', 'qcow2', dir.path('disk.raw'), dir.path('disk.qcow2')]);
    raw = readFileSync(dir.path('disk.raw'));
    fileBytes = debugfsDump(fsImg, LOG, dir.path('app.dump'));
    dev = await openImage(dir.path('disk.qcow2'), { readOnly: true });
  });
  after(async () => {
    await dev?.close();
    dir.cleanup();
  });

  async function run(file: { volume: string; path: string }, overlay?: Parameters<typeof withPendingEdits>[1]) {
    const posted: HostMessage[] = [];
    const find = new HexFind(
      (m) => posted.push(m),
      async () => ({ dev, journal: overlay, path: 'disk.qcow2' }),
    );
    await find.run({ type: 'findStart', searchId: 3, mode: 'text', pattern: NEEDLE, matchCase: true, start: 0, end: 0, origin: 0, action: 'all', file });
    const hits = posted.flatMap((m) => (m.type === 'findHits' ? m.hits : []));
    const done = posted.find((m) => m.type === 'findDone') as Extract<HostMessage, { type: 'findDone' }>;
    return { hits, done };
  }

  /** Where file byte `at` lies on the disk, from debugfs's block map of the file. */
  const diskOffsetByDebugfs = (at: number) => {
    const block = Number(debugfs(fsImg, `bmap ${LOG} ${Math.floor(at / 4096)}`).trim());
    return fsStart + block * 4096 + (at % 4096);
  };

  it('finds what a Node scan of the file (as debugfs dumps it) finds, each hit at the disk offset debugfs gives', async () => {
    const want: number[] = [];
    for (let at = fileBytes.indexOf(NEEDLE); at >= 0; at = fileBytes.indexOf(NEEDLE, at + 1)) want.push(at);
    assert.equal(want.length, 3);
    const r = await run({ volume: '1', path: LOG });
    assert.equal(r.done.status, 'done');
    assert.deepEqual(
      r.hits.map((h) => h.fileOffset),
      want,
    );
    for (const h of r.hits) {
      assert.equal(h.offset, diskOffsetByDebugfs(h.fileOffset!));
      // A hit across a block boundary is selected up to its extent's end (the next block may lie elsewhere).
      assert.equal(raw.subarray(h.offset, h.offset + h.length).toString('latin1'), NEEDLE.slice(0, h.length));
      assert.ok(h.length >= 1 && h.length <= NEEDLE.length);
      assert.match(h.preview, /Guest-File/);
    }
    assert.equal(
      r.hits.some((h) => h.offset >= fsStart && raw.subarray(h.offset - 11, h.offset).toString() === 'elsewhere: '),
      false,
      'not in other files',
    );
  });

  it('reads the file as the hex view shows it: an unsaved edit in its bytes is found', async () => {
    const at = 300 * 1024;
    const disk = diskOffsetByDebugfs(at);
    const bytes = Buffer.from(NEEDLE);
    const overlay = {
      overlay(offset: number, buf: Uint8Array) {
        for (let o = Math.max(offset, disk); o < Math.min(offset + buf.length, disk + bytes.length); o++) buf[o - offset] = bytes[o - disk];
      },
      pendingIn: (offset: number, length: number): Array<[number, number]> =>
        disk < offset + length && disk + bytes.length > offset ? [[disk, bytes.length]] : [],
    };
    const r = await run({ volume: '1', path: LOG }, overlay);
    assert.ok(r.hits.some((h) => h.fileOffset === at && h.offset === disk));
  });

  it('hits in a hole of the file are counted, not listed (they are nowhere on the disk)', async () => {
    assert.match(debugfs(fsImg, 'stat /sparse.bin'), /EXTENTS:\n\(0\):\d+, \(3\):\d+/, 'mke2fs kept the hole');
    const posted: HostMessage[] = [];
    const find = new HexFind(
      (m) => posted.push(m),
      async () => ({ dev, path: 'disk.qcow2' }),
    );
    const zeros = '00 '.repeat(16).trim();
    const base = { type: 'findStart', searchId: 4, mode: 'hex', pattern: zeros, matchCase: true, start: 0, end: 0, origin: 0, action: 'all' } as const;
    await find.run({ ...base, file: { volume: '1', path: '/sparse.bin' } });
    const done = posted.find((m) => m.type === 'findDone') as Extract<HostMessage, { type: 'findDone' }>;
    assert.equal(done.status, 'done');
    assert.equal(posted.flatMap((m) => (m.type === 'findHits' ? m.hits : [])).length, 0);
    assert.equal(done.offDisk, 8192 - 15);
  });

  it('a missing file, a directory or a missing volume is one clear error line', async () => {
    for (const [file, re] of [
      [{ volume: '1', path: '/var/log/nope' }, /partition 1: .*\/var\/log\/nope.*no such file/],
      [{ volume: '1', path: '/var/log' }, /partition 1: \/var\/log is a directory, not a file/],
      [{ volume: '7', path: '/x' }, /no partition or logical volume '7' \(volumes: 1\)/],
    ] as const) {
      const r = await run(file);
      assert.equal(r.done.status, 'error');
      assert.match(r.done.message ?? '', re);
      assert.equal(r.done.message!.includes('\n'), false);
    }
  });
});
