/**
 * Snapshots sharing L1 and L2 tables (issue #7): check walks each distinct table once per walk context (the
 * active L1; the snapshots) and counts what it finds once per reference, so its report stays qemu-img check's
 * while the work no longer grows with snapshots × L2 entries.
 */
import { strict as assert } from 'node:assert';
import { copyFileSync } from 'node:fs';
import { ReferenceWalk } from '../../src/qcow2/check/walk';
import { newPass, type RepairMode } from '../../src/qcow2/check/check';
import { emptySummary, FindingSink } from '../../src/qcow2/check/findings';
import { openForCheck } from '../../src/qcow2/check/open-for-check';
import { qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { COPIED, Layout, OFFSET_MASK, ourCheck, qemuCheck } from './check-fixtures';
import { appendClusters, denseSharedTables, qemuSnapshots, sharedSnapshots } from './check-shared-fixtures';

const dir = scratchDir('q2i-check-shared-');
after(() => dir.cleanup());
let n = 0;

function image(opts: string, ioCmds: string[]): string {
  const path = dir.path(`shared-${n++}.qcow2`);
  qemuImg(['create', '-q', '-f', 'qcow2', '-o', opts, path, '64M']);
  if (ioCmds.length) qemuIo(path, ioCmds);
  return path;
}

const errorLines = (lines: string[]): string[] => lines.filter((l) => /^(ERROR|Leaked|Repairing)/.test(l)).sort();

/** qemu-img check and ours, each on its own copy: same exit code and JSON, and (without -r) the same error lines. */
async function sameAsQemu(path: string, repair?: RepairMode): Promise<void> {
  copyFileSync(path, `${path}.q`);
  copyFileSync(path, `${path}.o`);
  const q = qemuCheck(`${path}.q`, repair);
  const ours = await ourCheck(`${path}.o`, repair);
  const detail = `qemu ${q.code} ${JSON.stringify(q.json)}\nours ${ours.code} ${JSON.stringify(ours.json)}`;
  assert.equal(ours.code, q.code, detail);
  assert.deepEqual({ ...ours.json, filename: '' }, { ...q.json, filename: '' }, detail);
  if (!repair) {
    assert.equal(ours.result.findingsDropped, 0);
    assert.deepEqual(errorLines(ours.result.findings.map((f) => f.qemuLine)), errorLines(q.stderr.split('\n')));
  }
}

/** Runs the reference walk alone: how many L2 tables it walked, and its counters. */
async function walk(path: string): Promise<{ l2TablesWalked: number; corruptions: number }> {
  const dev = await openForCheck(path, true);
  try {
    const res = emptySummary();
    const calc = new ReferenceWalk(await newPass(dev, {}, new FindingSink(100), res), { copiedInline: true, fixAll: false });
    await calc.run();
    return { l2TablesWalked: calc.l2TablesWalked, corruptions: res.corruptions };
  } finally {
    await dev.close();
  }
}

describe('check: snapshots sharing L1 and L2 tables', function () {
  this.timeout(120_000);

  describe('200 snapshots made by qemu-img (each its own L1 copy, all sharing the L2 tables)', () => {
    let path: string;
    before(() => {
      // Two L2 tables (4 KiB clusters: 2 MiB each): plain data with a hole, then a compressed cluster.
      path = image('cluster_size=4096', ['write -q -P 0x11 0 1M', 'write -q -P 0x22 1536k 512k', 'write -q -c -P 0x33 2M 64k']);
      qemuSnapshots(path, 200);
    });

    it('same result as qemu-img check, walking each L2 table once for the image and once for the snapshots', async () => {
      await sameAsQemu(path);
      assert.equal((await walk(path)).l2TablesWalked, 2 + 2);
    });

    it('bad entries in a shared L2 table count once per reference, as qemu-img counts them', async () => {
      const p = dir.path(`shared-${n++}.qcow2`);
      copyFileSync(path, p);
      const lay = new Layout(p);
      lay.setL2Entry(1, lay.l2Entry(1) | 0x2n); // reserved bit
      lay.setL2Entry(0, lay.l2Entry(0, 1) | COPIED, 1); // COPIED on a compressed entry
      await sameAsQemu(p);
      await sameAsQemu(p, 'leaks');
      await sameAsQemu(p, 'all');
    });
  });

  it('300 snapshots sharing the active L1 table, 8-bit refcounts: overflows as qemu-img reports them', async () => {
    const path = image('cluster_size=4096,refcount_bits=8', ['write -q -P 0x11 0 64k', 'write -q -c -P 0x22 1M 64k']);
    sharedSnapshots(path, 300);
    await sameAsQemu(path);
    assert.equal((await walk(path)).l2TablesWalked, 1 + 1);
  });

  it('20 snapshots sharing the active L1 table, 1-bit refcounts: every further reference overflows', async () => {
    const path = image('cluster_size=4096,refcount_bits=1', ['write -q -P 0x11 0 16k', 'write -q -c -P 0x22 1M 4k']);
    sharedSnapshots(path, 20);
    await sameAsQemu(path);
  });

  it('1000 distinct snapshot L1 tables referencing the same L2 table: one walk of it for all', async () => {
    const path = image('cluster_size=4096', ['write -q -P 0x11 0 2M']);
    const lay = new Layout(path);
    const l1 = lay.p.read(lay.l1Offset, lay.l1Size * 8);
    const copies = appendClusters(lay, Buffer.concat(Array.from({ length: 1000 }, () => Buffer.concat([l1, Buffer.alloc(lay.cs - l1.length)]))));
    sharedSnapshots(
      path,
      1000,
      Array.from({ length: 1000 }, (_, i) => copies + i * lay.cs),
    );
    await sameAsQemu(path);
    assert.equal((await walk(path)).l2TablesWalked, 1 + 1);
  });

  it('an active L1 whose 32 entries all point to one L2 table: allocation, fragmentation and COPIED counted per reference', async () => {
    const path = image('cluster_size=4096', ['write -q -P 0x11 0 64k', 'write -q -P 0x22 128k 8k', 'write -q -c -P 0x33 1M 8k']);
    const lay = new Layout(path);
    for (let i = 1; i < 32; i++) lay.setL1Entry(i, lay.l1Entry(0));
    await sameAsQemu(path);
    assert.equal((await walk(path)).l2TablesWalked, 1);
  });

  it('-r all: an entry fixed through the active L1 is already fixed for the snapshots sharing its table', async () => {
    const path = image('cluster_size=4096', ['write -q -P 0x11 0 8k']);
    qemuSnapshots(path, 3);
    const lay = new Layout(path);
    lay.setL2Entry(0, ((lay.l2Entry(0) & OFFSET_MASK) + 0x200n) | 1n); // a preallocated zero cluster, not aligned
    await sameAsQemu(path);
    await sameAsQemu(path, 'all');
  });

  it('-r all: an entry fixed through one snapshot is already fixed for the other snapshots sharing its table', async () => {
    const path = image('cluster_size=4096', ['write -q -P 0x11 0 8k']);
    qemuSnapshots(path, 1);
    qemuIo(path, ['write -q -P 0x22 0 4k']); // the image gets its own L2 table; the snapshot's is its own too
    const made = new Layout(path);
    const snapshotL1 = Number(made.p.u64(made.snapshotsOffset));
    sharedSnapshots(path, 3, [snapshotL1]);
    const lay = new Layout(path);
    const l2 = Number(lay.p.u64(snapshotL1) & OFFSET_MASK);
    lay.p.setU64(l2 + 8, ((lay.p.u64(l2 + 8) & OFFSET_MASK) + 0x200n) | 1n);
    await sameAsQemu(path);
    await sameAsQemu(path, 'all');
  });

  it('-r leaks and -r all: an active L1 whose entries share one L2 table, as qemu-img repairs it', async () => {
    const path = image('cluster_size=4096', ['write -q -P 0x11 0 64k', 'write -q -P 0x22 128k 8k']);
    const lay = new Layout(path);
    for (let i = 1; i < 8; i++) lay.setL1Entry(i, lay.l1Entry(0));
    await sameAsQemu(path, 'leaks');
    await sameAsQemu(path, 'all');
  });

  it('hostile: -r all of an active L1 with 100,000 entries sharing one full L2 table takes under 3 s of CPU', async () => {
    // The COPIED-flag pass of a repair scanned the table once per L1 entry: 100,000 × 8192 entries.
    const path = dir.path('hostile-l1.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', path, '50T']);
    qemuIo(path, ['write -q -P 0x11 0 64k']);
    denseSharedTables(path, 100_000);
    for (const repair of ['leaks', 'all'] as const) {
      const p = dir.path(`hostile-l1-${repair}.qcow2`);
      copyFileSync(path, p);
      const cpu0 = process.cpuUsage();
      const r = await ourCheck(p, repair);
      const cpu = process.cpuUsage(cpu0);
      assert.ok((cpu.user + cpu.system) / 1e6 < 3, `check -r ${repair} took ${(cpu.user + cpu.system) / 1e6} s of CPU`);
      assert.equal(r.code, 2);
      assert.ok(r.result.findings.length <= 10_000);
    }
  });

  describe('hostile: 2000 snapshots sharing one L1 table whose 32 entries share one full L2 table (64 KiB clusters)', () => {
    let path: string;
    before(() => {
      // Was 31 s for 200 snapshots (qemu-img check: 27-36 s), growing with the snapshot count.
      path = dir.path('hostile.qcow2');
      qemuImg(['create', '-q', '-f', 'qcow2', path, '16G']);
      qemuIo(path, ['write -q -P 0x11 0 64k']);
      qemuSnapshots(path, 1);
      denseSharedTables(path, 32);
      sharedSnapshots(path, 2000);
    });

    it('walks the L2 table once per walk context and counts every reference, as qemu-img does', async () => {
      const cpu0 = process.cpuUsage();
      const r = await walk(path);
      const cpu = process.cpuUsage(cpu0);
      assert.equal(r.l2TablesWalked, 1 + 1);
      assert.ok((cpu.user + cpu.system) / 1e6 < 3, `took ${(cpu.user + cpu.system) / 1e6} s of CPU`);
      // What qemu-img check counts while walking (checked against it for 200 snapshots): 8192 × 32 × 2001 references
      // to the data cluster, all but 65535 of them overflows, and 32 + 8192 × 32 COPIED mismatches in the active
      // tables. (The refcount comparison after the walk adds 6 more.)
      assert.equal(r.corruptions, 8192 * 32 * 2001 - 65535 + 32 + 8192 * 32);
    });

    it('check and check -r all each take under 3 s of CPU', async () => {
      for (const repair of [undefined, 'all'] as const) {
        const p = dir.path(`hostile-${repair}.qcow2`);
        copyFileSync(path, p);
        const cpu0 = process.cpuUsage();
        const r = await ourCheck(p, repair);
        const cpu = process.cpuUsage(cpu0);
        assert.ok((cpu.user + cpu.system) / 1e6 < 3, `check${repair ? ' -r all' : ''} took ${(cpu.user + cpu.system) / 1e6} s of CPU`);
        assert.equal(r.code, 2);
        assert.ok(r.result.findings.length <= 10_000 && r.result.findingsDropped > 0);
      }
    });
  });
});
