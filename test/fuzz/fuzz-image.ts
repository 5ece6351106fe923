/**
 * The fuzz target: treat the input bytes as a qcow2 image and drive the engine over it the way the CLI and the
 * extension do. Every failure must be the engine's own one-line Qcow2Error; anything else is a finding and is
 * thrown as a FuzzFinding so the fuzzer records the input. Used by the jazzer entry (jazzer-entry.ts) and by the
 * regression tests (test/engine/fuzz-regressions.test.ts), so a crash reproduces the same way in both.
 */
import type { Qcow2Dev } from '../../src/qcow2/qcow2-dev';
import { checkOnly, cliOnly, rebaseOnce, repairOnce, stages, usageOnly, type StageContext } from './stages';
import { expectEngineError, FuzzFinding } from './finding';
import { openFuzzImage } from './fuzz-io';
import { luksOnly } from './luks-stage';

export { FuzzFinding, expectEngineError } from './finding';
export { openFuzzImage, FUZZ_PATH } from './fuzz-io';

const SKIP = new Set((process.env.QCOW2_FUZZ_SKIP ?? '').split(',').filter(Boolean));

/** Runs every stage over one input. Resolves when the engine behaved; throws FuzzFinding otherwise. */
export async function fuzzImage(data: Uint8Array): Promise<void> {
  const bytes = new Uint8Array(data); // never alias the fuzzer's buffer
  const cpu0 = process.cpuUsage();
  let failure: { err: unknown } | undefined;
  try {
    await runStages(bytes);
  } catch (err) {
    failure = { err };
  }
  // A hang is judged on CPU time, not wall time: the machine is shared, and libFuzzer's wall-clock timeout
  // (scripts/fuzz.mjs) is only the backstop for a real infinite loop. It outranks any other failure.
  const cpu = process.cpuUsage(cpu0);
  const seconds = (cpu.user + cpu.system) / 1e6;
  if (seconds > MAX_CPU_SECONDS) throw new FuzzFinding(`one input took ${seconds.toFixed(1)} s of CPU (limit ${MAX_CPU_SECONDS} s)`);
  if (failure) throw failure.err;
}

/**
 * Hang limit per input (all stages): 5 s of CPU. Under the fuzzer, instrumentation makes the code 2-4x slower,
 * so scripts/fuzz.mjs raises it to 20 s there; whatever it flags is replayed here, uninstrumented, against 5 s.
 */
export const MAX_CPU_SECONDS = Number(process.env.QCOW2_FUZZ_CPU_LIMIT ?? 5);

async function runStages(bytes: Uint8Array): Promise<void> {
  const clean = SKIP.has('check') ? false : await checkOnly(bytes);
  if (!SKIP.has('usage')) await usageOnly(bytes);
  if (!SKIP.has('cli')) await cliOnly(bytes);
  if (!clean && !SKIP.has('repair')) await repairOnce(bytes);
  if (!SKIP.has('rebase')) await rebaseOnce(bytes);
  if (!SKIP.has('luks')) await luksOnly(bytes);
  let dev: Qcow2Dev;
  try {
    dev = (await openFuzzImage(bytes)).dev;
  } catch (err) {
    expectEngineError(err, 'open');
    return;
  }
  const ctx: StageContext = { bytes, dev, checkedClean: clean };
  try {
    for (const stage of stages) {
      if (SKIP.has(stage.name)) continue;
      try {
        await stage.run(ctx);
      } catch (err) {
        expectEngineError(err, stage.name);
      }
    }
  } finally {
    await dev.close().catch((err) => expectEngineError(err, 'close'));
  }
}
