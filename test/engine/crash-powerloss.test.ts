/**
 * Power loss at every write: for each N, the power fails at the N-th write to the image file. The disk then
 * holds what was synced, plus (in the "reordered" runs) a seeded random subset of the unsynced writes.
 * qemu-img check must find no corruptions, and every write made durable by flushMeta + fsyncRange must read back.
 * Q2I_LONG=1 tries every N on every workload; by default large workloads are sampled (all small N, then a stride).
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { PowerLossIo, PowerSupply, type PowerLossOptions } from '../../src/qcow2/io/fault';
import { qemuImg } from '../helpers/qemu';
import { envSeed, LONG, withSeed } from '../helpers/workload';
import { fastScratchDir, pickNs, runWithIo, verifyCrashImage, type CrashWorkload } from '../helpers/crash';
import { crashWorkloads } from '../helpers/crash-workloads';

describe('crash safety: power loss after the N-th write', function () {
  this.timeout(LONG ? 3_600_000 : 300_000);
  const tmp = fastScratchDir('q2i-crash-pl-');
  after(() => tmp.cleanup());
  const summary: string[] = [];
  after(() => console.log(`      power-loss coverage: ${summary.join('; ')}`));

  for (const spec of crashWorkloads) {
    it(`${spec.name}: no corruption and durable writes survive, for every N`, async () => {
      const seed = envSeed(spec.seed);
      await withSeed(seed, async () => {
        const w: CrashWorkload = await spec.build(tmp.path, seed);
        const initial = new Uint8Array(readFileSync(w.path));
        const initialData = w.dataFile ? new Uint8Array(readFileSync(w.dataFile)) : undefined;
        /** The image file and, when there is one, its data file, on one power supply. */
        const files = (opts: Omit<PowerLossOptions, 'power'>): { io: PowerLossIo; data?: PowerLossIo } => {
          const power = new PowerSupply();
          return {
            io: new PowerLossIo(initial, w.path, { ...opts, power }),
            data: initialData && new PowerLossIo(initialData, w.dataFile!, { ...opts, power }),
          };
        };
        qemuImg(['convert', '-O', 'raw', w.path, tmp.path('initial.raw')]);
        const initialRaw = new Uint8Array(readFileSync(tmp.path('initial.raw')));

        // A clean run tells how many writes the workload makes.
        const { io: probe, data: probeData } = files({ failAtWrite: Infinity });
        const clean = await runWithIo(w, probe, false, probeData);
        assert.equal(clean.error, undefined, String(clean.error));
        const total = probe.writes;
        await verifyCrashImage(
          probe.liveImage(),
          tmp.path('clean.qcow2'),
          tmp.path('clean.raw'),
          initialRaw,
          w,
          clean,
          `${w.name} without faults`,
          probeData?.liveImage(),
        );

        const ns = pickNs(total, spec.dense, LONG ? Infinity : spec.budget);
        let leaky = 0;
        for (const n of ns) {
          // Every N drops all unsynced writes; every other N (every N with Q2I_LONG=1) also keeps a random half,
          // on every fourth N as torn writes (random 512-byte sectors of each).
          for (const keep of LONG || n % 2 ? [0, 0.5] : [0]) {
            const torn = keep > 0 && (LONG || n % 4 === 1);
            const { io, data } = files({ failAtWrite: n, keepProbability: keep, seed: seed + n, tornWrites: torn });
            const outcome = await runWithIo(w, io, false, data);
            const label = `${w.name}, power lost at write ${n}/${total}, ${keep ? `random half of unsynced writes kept${torn ? ', torn into sectors' : ''}` : 'unsynced writes dropped'}`;
            const { leaks } = await verifyCrashImage(
              await io.crashImage(),
              tmp.path('crash.qcow2'),
              tmp.path('crash.raw'),
              initialRaw,
              w,
              outcome,
              label,
              await data?.crashImage(),
            );
            if (leaks > 0) leaky++;
          }
        }
        summary.push(
          `${w.name}: ${total} writes, N tried ${ns.length === total + 1 ? `1..${total + 1} (all)` : `${ns.length} of 1..${total + 1}`}, ${leaky} runs with leaks`,
        );
      });
    });
  }

  it('has teeth: a disk whose fsync lies is caught (lost durable writes or corruption)', async () => {
    const spec = crashWorkloads[0];
    const w = await spec.build(tmp.path, spec.seed);
    const initial = new Uint8Array(readFileSync(w.path));
    qemuImg(['convert', '-O', 'raw', w.path, tmp.path('initial.raw')]);
    const initialRaw = new Uint8Array(readFileSync(tmp.path('initial.raw')));
    let caught = 0;
    for (const n of [20, 40, 60, 80, 100]) {
      const io = new PowerLossIo(initial, w.path, { failAtWrite: n, keepProbability: 0.5, seed: n, lyingSync: true });
      const outcome = await runWithIo(w, io, false);
      try {
        await verifyCrashImage(await io.crashImage(), tmp.path('lie.qcow2'), tmp.path('lie.raw'), initialRaw, w, outcome, 'lying disk');
      } catch {
        caught++;
      }
    }
    assert.ok(caught >= 3, `only ${caught} of 5 lying-disk crashes were detected`);
  });
});
