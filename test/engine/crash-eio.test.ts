/**
 * I/O errors at every write: the N-th write to the image file fails with EIO.
 * - 'sticky' (a dead disk): every later write and fsync fail too; the run stops at the first error.
 * - 'once' (a transient error): the workload carries on, and a final flushMeta + fsyncRange is attempted.
 * Also the N-th fsync failing. In all cases the file left behind must pass qemu-img check without corruptions
 * (leaks allowed) and every write made durable before the error must read back.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { FailCounters, FailingIo, type FailingIoOptions } from '../../src/qcow2/io/fault';
import { qemuImg } from '../helpers/qemu';
import { envSeed, LONG, withSeed } from '../helpers/workload';
import { fastScratchDir, pickNs, runWithIo, verifyCrashImage, type CrashWorkload } from '../helpers/crash';
import { crashWorkloads } from '../helpers/crash-workloads';

describe('crash safety: EIO on the N-th write or fsync', function () {
  this.timeout(LONG ? 3_600_000 : 300_000);
  const tmp = fastScratchDir('q2i-crash-eio-');
  after(() => tmp.cleanup());
  const summary: string[] = [];
  after(() => console.log(`      EIO coverage: ${summary.join('; ')}`));

  for (const spec of crashWorkloads) {
    it(`${spec.name}: no corruption after a failed write or fsync, for every N`, async () => {
      const seed = envSeed(spec.seed);
      await withSeed(seed, async () => {
        const w: CrashWorkload = await spec.build(tmp.path, seed);
        const initial = new Uint8Array(readFileSync(w.path));
        const initialData = w.dataFile ? new Uint8Array(readFileSync(w.dataFile)) : undefined;
        /** The image file and, when there is one, its data file, on one failing disk. */
        const files = (opts: Omit<FailingIoOptions, 'counters'>): { io: FailingIo; data?: FailingIo } => {
          const counters = new FailCounters();
          return {
            io: new FailingIo(initial, w.path, { ...opts, counters }),
            data: initialData && new FailingIo(initialData, w.dataFile!, { ...opts, counters }),
          };
        };
        qemuImg(['convert', '-O', 'raw', w.path, tmp.path('initial.raw')]);
        const initialRaw = new Uint8Array(readFileSync(tmp.path('initial.raw')));

        const probe = files({});
        assert.equal((await runWithIo(w, probe.io, false, probe.data)).error, undefined);
        const total = probe.io.writes;
        const totalSyncs = probe.io.syncs;

        const ns = pickNs(total, spec.dense, LONG ? Infinity : spec.budget);
        let surfaced = 0;
        for (const n of ns) {
          // Sticky on every N; transient on every other N (every N with Q2I_LONG=1).
          for (const mode of LONG || n % 2 ? (['sticky', 'once'] as const) : (['sticky'] as const)) {
            const { io, data } = files({ failAtWrite: n, mode });
            const outcome = await runWithIo(w, io, mode === 'once', data);
            if (n <= total) {
              assert.ok(outcome.error, `${w.name}: write ${n} failed but no error reached the caller (${mode})`);
              assert.match(outcome.error!.message, /EIO/);
              surfaced++;
            }
            await verifyCrashImage(
              io.bytes(),
              tmp.path('eio.qcow2'),
              tmp.path('eio.raw'),
              initialRaw,
              w,
              outcome,
              `${w.name}, EIO at write ${n}/${total} (${mode})`,
              data?.bytes(),
            );
          }
        }
        const syncNs = pickNs(totalSyncs, spec.dense, LONG ? Infinity : spec.budget / 2);
        for (const s of syncNs) {
          const { io, data } = files({ failAtSync: s, mode: 'sticky' });
          const outcome = await runWithIo(w, io, false, data);
          if (s <= totalSyncs) assert.ok(outcome.error, `${w.name}: fsync ${s} failed but no error reached the caller`);
          await verifyCrashImage(
            io.bytes(),
            tmp.path('eio.qcow2'),
            tmp.path('eio.raw'),
            initialRaw,
            w,
            outcome,
            `${w.name}, EIO at fsync ${s}/${totalSyncs}`,
            data?.bytes(),
          );
        }
        summary.push(
          `${w.name}: ${total} writes (${ns.length} N of 1..${total + 1}), ${totalSyncs} fsyncs (${syncNs.length} N of 1..${totalSyncs + 1}), ${surfaced} errors surfaced`,
        );
      });
    });
  }
});
