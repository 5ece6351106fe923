/**
 * The fuzz target: treat the input bytes as a qcow2 image and drive the engine over it the way the CLI and the
 * extension do. Every failure must be the engine's own one-line Qcow2Error; anything else is a finding and is
 * thrown as a FuzzFinding so the fuzzer records the input. Used by the jazzer entry (jazzer-entry.ts) and by the
 * regression tests (test/engine/fuzz-regressions.test.ts), so a crash reproduces the same way in both.
 */
import type { Qcow2Dev } from '../../src/qcow2/qcow2-dev';
import { checkOnly, cliOnly, repairOnce, stages, usageOnly, type StageContext } from './stages';
import { expectEngineError } from './finding';
import { openFuzzImage } from './fuzz-io';

export { FuzzFinding, expectEngineError } from './finding';
export { openFuzzImage, FUZZ_PATH } from './fuzz-io';

const SKIP = new Set((process.env.QCOW2_FUZZ_SKIP ?? '').split(',').filter(Boolean));

/** Runs every stage over one input. Resolves when the engine behaved; throws FuzzFinding otherwise. */
export async function fuzzImage(data: Uint8Array): Promise<void> {
  const bytes = new Uint8Array(data); // never alias the fuzzer's buffer
  const clean = SKIP.has('check') ? false : await checkOnly(bytes);
  if (!SKIP.has('usage')) await usageOnly(bytes);
  if (!SKIP.has('cli')) await cliOnly(bytes);
  if (!clean && !SKIP.has('repair')) await repairOnce(bytes);
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
