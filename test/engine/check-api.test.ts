/**
 * The engine API around check: Qcow2Dev.check/clusterUsage, findings' details, progress, cancellation and
 * the memory bound.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { Layout, qemuCheck } from './check-fixtures';
import { openImage } from '../../src/qcow2/open';
import { openForCheck, devForCheck } from '../../src/qcow2/check/open-for-check';
import { checkImage } from '../../src/qcow2/check/check';
import { MemIo } from '../../src/qcow2/io/memory';
import { Qcow2Error } from '../../src/qcow2/errors';
import type { CheckProgress } from '../../src/qcow2/check/walk';

describe('check: engine API', function () {
  this.timeout(60_000);
  const dir = scratchDir('q2i-check-api-');
  after(() => dir.cleanup());

  const make = (name: string, size = '64M'): string => {
    const p = dir.path(name);
    qemuImg(['create', '-f', 'qcow2', p, size]);
    qemuIo(p, ['write -P 1 0 1M', 'write -P 2 40M 128k']);
    return p;
  };

  it('Qcow2Dev.check and clusterUsage on a normally opened image', async () => {
    const p = make('dev.qcow2');
    const dev = await openImage(p, { readOnly: true });
    try {
      const r = await dev.check();
      assert.equal(r.exitCode, 0);
      assert.equal(r.summary.allocatedClusters, 18);
      const seen: string[] = [];
      const u = await dev.clusterUsage((category, ranges, clusters) => {
        seen.push(category);
        assert.equal(
          ranges.reduce((s, x) => s + x.last - x.first + 1, 0),
          clusters,
        );
      });
      assert.deepEqual(
        seen,
        u.categories.map((c) => c.category),
      );
      assert.equal(u.categories.find((c) => c.category === 'data')?.clusters, 18);
    } finally {
      await dev.close();
    }
  });

  it('repairs through Qcow2Dev.check, then reads the same guest data', async () => {
    const p = make('devrepair.qcow2');
    const l = new Layout(p);
    l.setRefcount(Math.floor(l.dataOffset(3) / l.cs), 5);
    const dev = await openImage(p);
    try {
      const before = new Uint8Array(2 << 20);
      await dev.readAt(before, 0);
      const r = await dev.check({ repair: 'leaks' });
      assert.equal(r.exitCode, 0);
      assert.equal(r.summary.leaksFixed, 1);
      const after = new Uint8Array(2 << 20);
      await dev.readAt(after, 0);
      assert.deepEqual(after, before);
    } finally {
      await dev.close();
    }
    assert.equal(qemuCheck(p).code, 0);
  });

  it('findings carry kind, severity, host and guest offsets and a plain message', async () => {
    const p = make('findings.qcow2');
    const l = new Layout(p);
    const host = l.dataOffset(2);
    l.setL2Entry(2, l.l2Entry(2) & ~(1n << 63n));
    const dev = await openForCheck(p, true);
    try {
      const r = await checkImage(dev);
      assert.equal(r.exitCode, 2);
      const f = r.findings.find((x) => x.kind === 'copied-flag');
      assert.ok(f);
      assert.equal(f.severity, 'corruption');
      assert.equal(f.hostOffset, host);
      assert.deepEqual(f.virtualOffsets, [2 * 65536]);
      assert.match(f.message, /COPIED clear but its data cluster's refcount is 1/);
      assert.match(f.qemuLine, /^ERROR OFLAG_COPIED data cluster: l2_entry=[0-9a-f]+ refcount=1$/);
    } finally {
      await dev.close();
    }
  });

  it('names what overlapping metadata is used as', async () => {
    const p = make('overlap.qcow2');
    const l = new Layout(p);
    l.setL2Entry(7, (1n << 63n) | BigInt(l.l1Offset));
    const dev = await openForCheck(p, true);
    try {
      const r = await checkImage(dev);
      const f = r.findings.find((x) => x.kind === 'refcount-too-low');
      assert.ok(f, JSON.stringify(r.findings));
      assert.equal(f.hostOffset, l.l1Offset);
      assert.match(f.message, /used as L1 table and data/);
    } finally {
      await dev.close();
    }
  });

  it('reports progress through its phases', async () => {
    const p = make('progress.qcow2', '8G');
    qemuIo(p, ['write -P 3 3G 64k', 'write -P 4 7G 64k']);
    const dev = await openForCheck(p, true);
    const events: CheckProgress[] = [];
    try {
      await checkImage(dev, { onProgress: (e) => events.push(e) });
    } finally {
      await dev.close();
    }
    const phases = [...new Set(events.map((e) => e.phase))];
    assert.deepEqual(phases, ['refcounts', 'tables', 'compare']);
    for (const e of events) assert.ok(e.done <= e.total);
    const tables = events.filter((e) => e.phase === 'tables');
    assert.equal(tables[tables.length - 1].done, tables[tables.length - 1].total);
  });

  it('is cancelled by an AbortSignal with a cancelled error and writes nothing', async () => {
    const p = make('cancel.qcow2', '8G');
    qemuIo(p, ['write -P 3 3G 64k', 'write -P 4 7G 64k']);
    new Layout(p).setRefcount(0, 7);
    const bytes = readFileSync(p);
    const dev = await openForCheck(p, false);
    const ac = new AbortController();
    try {
      await assert.rejects(
        checkImage(dev, { repair: 'all', signal: ac.signal, onProgress: (e) => e.phase === 'tables' && ac.abort() }),
        (err: unknown) => err instanceof Qcow2Error && err.code === 'cancelled',
      );
    } finally {
      await dev.close();
    }
    assert.ok(readFileSync(p).equals(bytes));
  });

  it('refuses an absurdly large file with a clear limit error instead of allocating', async () => {
    const p = make('small.qcow2');
    const io = new MemIo(new Uint8Array(readFileSync(p)), 'huge.qcow2', true);
    io.size = async () => 2 ** 50; // claims a 1 PiB file
    const dev = await devForCheck(io, true);
    await assert.rejects(checkImage(dev), (err: unknown) => err instanceof Qcow2Error && err.code === 'limit' && /huge\.qcow2: .*clusters/.test(err.message));
  });
});
