/**
 * Power cut at every write of a snapshot creation (Qcow2Dev.createSnapshot, write/snapshot-create.ts), with the
 * unsynced writes dropped, and again with a random half of them kept, torn into 512-byte sectors. After each cut:
 * the image opens (qemu-img info, our open), the guest disk reads as before, the snapshot is either absent or
 * complete (it reads as the disk), and `qemu-img check -r all` makes it clean. What `qemu-img check` reports at
 * each cut is collected and printed; it must be clean, leaks, or (between a refcount block write and the L2/L1
 * write that clears COPIED, the order QEMU uses too) "OFLAG_COPIED" errors and nothing else. An EIO at any write or
 * fsync fails the creation with one line; the device goes on, and the image it closes has no corruption.
 */
import { strict as assert } from 'node:assert';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { FailingIo, PowerLossIo } from '../../src/qcow2/io/fault';
import { Qcow2Error } from '../../src/qcow2/errors';
import { NodeFileIo } from '../../src/qcow2/io/node';
import { MemIo } from '../../src/qcow2/io/memory';
import { openImage } from '../../src/qcow2/open';
import { qemuImg, qemuIo, sha256File } from '../helpers/qemu';
import { fastScratchDir } from '../helpers/crash';

interface Case {
  name: string;
  create: string[];
  fill: string[];
  /** Small caches make the creation write back part way (more cut points). */
  cacheSlices?: number;
}

const CASES: Case[] = [
  {
    name: 'v3, 64 KiB clusters, data + zero + compressed clusters, an earlier snapshot',
    create: ['-o', 'cluster_size=65536', '8M'],
    fill: ['write -P 0x11 0 1M', 'write -z 2M 128k', 'write -c -P 0x22 3M 64k', 'write -P 0x33 7M 64k'],
  },
  {
    name: 'v3, 512 B clusters, two-slice caches (written back part way)',
    create: ['-o', 'cluster_size=512', '2M'],
    fill: ['write -P 0x44 0 40k', 'write -z 256k 4k', 'write -c -P 0x55 512k 512', 'write -P 0x66 1M 100k'],
    cacheSlices: 2,
  },
];

type Outcome = { snapshot: boolean; corruptions: number; leaks: number };

function describeOutcome(o: Outcome): string {
  const parts = [o.snapshot ? 'snapshot present' : 'no snapshot'];
  if (o.corruptions) parts.push(`${o.corruptions} OFLAG_COPIED errors`);
  if (o.leaks) parts.push(`${o.leaks} leaked clusters`);
  if (!o.corruptions && !o.leaks) parts.push('check clean');
  return parts.join(', ');
}

describe('snapshot -c: power cut and EIO at every write', function () {
  this.timeout(600_000);
  const tmp = fastScratchDir('q2i-snapc-crash-');
  after(() => tmp.cleanup());
  const report: string[] = [];
  after(() => console.log(`      what qemu-img check reports after each cut:\n${report.map((l) => `        ${l}`).join('\n')}`));

  CASES.forEach((c, k) => {
    it(`${c.name}: opens, disk unchanged, snapshot absent or complete, check -r all cleans`, async () => {
      const img = tmp.path(`c${k}.qcow2`);
      qemuImg(['create', '-q', '-f', 'qcow2', ...c.create.slice(0, -1), img, c.create[c.create.length - 1]]);
      qemuIo(img, c.fill);
      if (k === 0) qemuImg(['snapshot', '-c', 'earlier', img]);
      qemuIo(img, ['write -P 0x77 64k 64k']);
      const initial = new Uint8Array(readFileSync(img));
      const raw = tmp.path('disk.raw');
      qemuImg(['convert', '-O', 'raw', img, raw]);
      const diskHash = sha256File(raw);
      const earlier = k === 0 ? snapshotHash(img, 'earlier', raw) : undefined;

      const create = async (io: PowerLossIo): Promise<Error | undefined> => {
        let dev;
        try {
          dev = await openImage(img, {
            readOnly: false,
            l2CacheSlices: c.cacheSlices,
            refblockCacheSlices: c.cacheSlices,
            openIo: (p) => (p === img ? Promise.resolve(io) : NodeFileIo.open(p, true)),
          });
          if (dev.format !== 'qcow2') throw new Error('not qcow2');
          await dev.createSnapshot('cut');
        } catch (err) {
          return err as Error;
        } finally {
          await dev?.close().catch(() => undefined);
        }
        return undefined;
      };
      const probe = new PowerLossIo(initial, img, { failAtWrite: Infinity });
      assert.equal(await create(probe), undefined);
      const total = probe.writes;
      const runs: Array<[string, string]> = [];
      for (let n = 1; n <= total + 1; n++) {
        for (const keep of [0, 0.5]) {
          const io = new PowerLossIo(initial, img, { failAtWrite: n, keepProbability: keep, seed: 1000 * k + n, tornWrites: keep > 0 });
          await create(io);
          const crashed = tmp.path('crash.qcow2');
          writeFileSync(crashed, await io.crashImage());
          const label = `${c.name}, cut at write ${n}/${total}${keep ? ' (half of the unsynced writes kept, torn)' : ''}`;
          const outcome = verifyCut(crashed, raw, diskHash, earlier, label);
          const ours = await openImage(crashed, { readOnly: true }); // our open accepts it too
          if (ours.format === 'qcow2') await ours.prepIo();
          await ours.close();
          if (keep === 0) runs.push([`write ${n}`, describeOutcome(outcome)]);
        }
      }
      // Consecutive cuts with the same outcome share one line.
      report.push(`${c.name} (${total} writes; unsynced writes dropped):`);
      for (let i = 0; i < runs.length;) {
        let j = i;
        while (j + 1 < runs.length && runs[j + 1][1] === runs[i][1]) j++;
        report.push(`  cut at ${runs[i][0]}${j > i ? `..${runs[j][0].slice(6)}` : ''}: ${runs[i][1]}`);
        i = j + 1;
      }
    });
  });

  function snapshotHash(image: string, name: string, out: string): string {
    qemuImg(['convert', '-l', `snapshot.name=${name}`, '-O', 'raw', image, out]);
    return sha256File(out);
  }

  function verifyCut(image: string, raw: string, diskHash: string, earlier: string | undefined, label: string): Outcome {
    const info = JSON.parse(qemuImg(['info', '--output=json', image]).stdout);
    const names: string[] = (info.snapshots ?? []).map((s: { name: string }) => s.name);
    assert.ok(names.join() === (earlier ? 'earlier' : '') || names.join() === (earlier ? 'earlier,cut' : 'cut'), `${label}: snapshots ${names.join()}`);
    qemuImg(['convert', '-O', 'raw', image, raw]);
    assert.equal(sha256File(raw), diskHash, `${label}: the disk changed`);
    const snapshot = names.includes('cut');
    if (snapshot) assert.equal(snapshotHash(image, 'cut', raw), diskHash, `${label}: the new snapshot is not the disk`);
    if (earlier) assert.equal(snapshotHash(image, 'earlier', raw), earlier, `${label}: the earlier snapshot changed`);
    const chk = qemuImg(['check', image], true);
    const errors = chk.stdout.split('\n').filter((l) => l.startsWith('ERROR'));
    assert.ok(
      errors.every((l) => /OFLAG_COPIED/.test(l)),
      `${label}: corruption other than OFLAG_COPIED:\n${chk.stdout}`,
    );
    const j = JSON.parse(qemuImg(['check', '--output=json', image], true).stdout);
    assert.equal(j['check-errors'] ?? 0, 0, `${label}: ${chk.stdout}`);
    const repaired = image + '.fix';
    copyFileSync(image, repaired);
    qemuImg(['check', '-q', '-r', 'all', repaired], true);
    const after = qemuImg(['check', repaired], true);
    assert.equal(after.code, 0, `${label}: not clean after check -r all:\n${after.stdout}`);
    return { snapshot, corruptions: j.corruptions ?? 0, leaks: j.leaks ?? 0 };
  }

  it('an EIO at any write or fsync: the error is one line, the device goes on (writes, a second snapshot), check finds no corruption', async () => {
    const img = tmp.path('eio.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', img, '4M']);
    qemuIo(img, ['write -P 1 0 256k', 'write -c -P 2 3M 4k', 'write -z 2M 8k']);
    qemuImg(['snapshot', '-c', 'older', img]);
    qemuIo(img, ['write -P 3 0 64k']);
    const initial = new Uint8Array(readFileSync(img));
    const raw = tmp.path('eio.raw');
    let during = { writes: 0, syncs: 0 };
    const run = async (io: FailingIo): Promise<{ first?: Error; disk: string }> => {
      const dev = await openImage(img, { readOnly: false, openIo: (p) => (p === img ? Promise.resolve(io) : NodeFileIo.open(p, true)) });
      if (dev.format !== 'qcow2') throw new Error('not qcow2');
      let first: Error | undefined;
      try {
        await dev.createSnapshot('first');
      } catch (err) {
        first = err as Error;
        assert.ok(err instanceof Qcow2Error && !/\n/.test(err.message), String(err));
      }
      during = { writes: io.writes, syncs: io.syncs };
      await dev.writeAt(new Uint8Array(8192).fill(9), 100 * 1024);
      const disk = new Uint8Array(dev.virtualSize);
      await dev.readAt(disk, 0);
      await dev.createSnapshot('second');
      await dev.writeAt(new Uint8Array(4096).fill(10), 0);
      await dev.close();
      writeFileSync(raw, disk);
      return { first, disk: sha256File(raw) };
    };
    const probe = new FailingIo(initial, img, {});
    await run(probe);
    const { writes, syncs } = during; // the writes and fsyncs of the first snapshot
    let failed = 0;
    for (const opts of [
      ...Array.from({ length: writes }, (_, i) => ({ failAtWrite: i + 1 })),
      ...Array.from({ length: syncs }, (_, i) => ({ failAtSync: i + 1 })),
    ]) {
      const io = new FailingIo(initial, img, opts);
      const { first, disk } = await run(io);
      if (first) failed++;
      const out = tmp.path('eio-out.qcow2');
      writeFileSync(out, io.bytes());
      const label = JSON.stringify(opts);
      const chk = JSON.parse(qemuImg(['check', '--output=json', out], true).stdout);
      assert.equal((chk.corruptions ?? 0) + (chk['check-errors'] ?? 0), 0, `${label}: ${JSON.stringify(chk)}`);
      assert.equal(snapshotHash(out, 'second', raw), disk, `${label}: snapshot second`);
    }
    assert.ok(failed > 5, `only ${failed} injected errors hit the first snapshot`);
  });

  it("writes in QEMU's order: refcount blocks, sync, L2, sync, L1, sync, then L1 copy and table, sync, header (60, 12 bytes), sync, free", async () => {
    const img = tmp.path('order.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', img, '4M']);
    qemuIo(img, ['write -P 1 0 256k', 'write -c -P 2 3M 4k', 'write -z 2M 8k']);
    qemuImg(['snapshot', '-c', 'older', img]); // so that there is an old table to free
    qemuIo(img, ['write -P 3 0 64k']);
    const log: string[] = [];
    class LoggingIo extends MemIo {
      override async writeAt(buf: Uint8Array, offset: number): Promise<void> {
        log.push(`w ${offset} ${buf.length}`);
        return super.writeAt(buf, offset);
      }
      override async fsync(): Promise<void> {
        log.push('sync');
      }
    }
    const io = new LoggingIo(new Uint8Array(readFileSync(img)), img);
    const dev = await openImage(img, { readOnly: false, openIo: (p) => (p === img ? Promise.resolve(io) : NodeFileIo.open(p, true)) });
    if (dev.format !== 'qcow2') throw new Error('not qcow2');
    const snap = await dev.createSnapshot('order');
    const reftable = new Set<number>();
    for (let r = 0; r < dev.reftable.length / 8; r++) {
      const off = Number(Buffer.from(dev.reftable.subarray(r * 8, r * 8 + 8)).readBigUInt64BE()) & ~0x1ff;
      if (off) reftable.add(off);
    }
    const l2s = new Set<number>();
    for (let i = 0; i < dev.info.l1Size; i++) if (dev.l2TableOffset(i)) l2s.add(dev.l2TableOffset(i));
    const kind = (entry: string): string => {
      if (entry === 'sync') return 'sync';
      const off = Number(entry.split(' ')[1]);
      const cluster = off - (off % 4096);
      if (off === 60 && entry.endsWith(' 12')) return 'header';
      if (reftable.has(cluster)) return 'refblock';
      if (l2s.has(cluster)) return 'L2';
      if (cluster === dev.header.l1TableOffset) return 'L1';
      if (cluster === snap.l1TableOffset) return 'L1 copy';
      if (cluster === dev.header.snapshotsOffset) return 'table';
      return `other ${entry}`;
    };
    await dev.close();
    // Consecutive equal kinds folded into one.
    const seq = log.map(kind).filter((k, i, a) => i === 0 || k !== a[i - 1]);
    assert.deepEqual(seq, ['refblock', 'sync', 'L2', 'sync', 'L1', 'sync', 'L1 copy', 'table', 'refblock', 'sync', 'header', 'sync', 'refblock', 'sync']);
    writeFileSync(img, io.bytes());
    assert.equal(qemuImg(['check', img], true).code, 0);
  });

  it('our open and write path accept every cut image once repaired', async () => {
    // Covered per cut above through qemu-img; here one cut image goes through our engine after repair.
    const img = tmp.path('ours.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', img, '1M']);
    qemuIo(img, ['write -P 1 0 512k']);
    const initial = new Uint8Array(readFileSync(img));
    const io = new PowerLossIo(initial, img, { failAtWrite: 3 });
    const dev = await openImage(img, { readOnly: false, openIo: (p) => (p === img ? Promise.resolve(io) : NodeFileIo.open(p, true)) });
    if (dev.format !== 'qcow2') throw new Error('not qcow2');
    await dev.createSnapshot('x').catch(() => undefined);
    await dev.close().catch(() => undefined);
    writeFileSync(img, await io.crashImage());
    qemuImg(['check', '-q', '-r', 'all', img], true);
    const again = await openImage(img, { readOnly: false });
    try {
      await again.writeAt(new Uint8Array(4096).fill(2), 0);
    } finally {
      await again.close();
    }
    assert.equal(qemuImg(['check', img], true).code, 0);
  });
});
