/**
 * The fuzz target: treat the input bytes as a qcow2 image and drive the engine over it the way the CLI and the
 * extension do. Every failure must be the engine's own one-line Qcow2Error; anything else is a finding and is
 * rethrown as a FuzzFinding so the fuzzer records the input. Used by the jazzer entry (jazzer-entry.ts) and by
 * the regression tests (test/engine/fuzz-regressions.test.ts), so a crash reproduces the same way in both.
 */
import { Qcow2Error } from '../../src/qcow2/errors';
import { MemIo } from '../../src/qcow2/io-mem';
import { openImage } from '../../src/qcow2/open';
import type { Qcow2Dev } from '../../src/qcow2/qcow2-dev';
import type { Qcow2IoOps } from '../../src/qcow2/io';
import { stages } from './stages';
import { FuzzFinding, expectEngineError } from './finding';

export { FuzzFinding, expectEngineError };

export const FUZZ_PATH = '/fuzz/image.qcow2';

/** An in-memory file that reports any attempt to change it: the image is opened read-only. */
export class ReadOnlyGuardIo extends MemIo {
  constructor(bytes: Uint8Array, path: string) {
    super(bytes, path, true);
  }
  override async writeAt(buf: Uint8Array, offset: number): Promise<void> {
    throw new FuzzFinding(`write of ${buf.length} bytes at ${offset} to a file opened read-only`);
  }
  override async truncate(size: number): Promise<void> {
    throw new FuzzFinding(`truncate to ${size} of a file opened read-only`);
  }
}

/** Opens `bytes` as an image (read-only unless `writable`) with every other path missing. */
export async function openFuzzImage(bytes: Uint8Array, writable = false): Promise<{ dev: Qcow2Dev; io: Qcow2IoOps }> {
  const io: Qcow2IoOps = writable ? new MemIo(bytes, FUZZ_PATH, false) : new ReadOnlyGuardIo(bytes, FUZZ_PATH);
  const dev = await openImage(FUZZ_PATH, {
    readOnly: !writable,
    l2CacheSlices: 16,
    refblockCacheSlices: 16,
    openIo: async (path) => {
      if (path === FUZZ_PATH) return io;
      throw new Qcow2Error('io', 'ENOENT: no such file or directory', path); // never touch the real file system
    },
  });
  return { dev, io };
}

/** Runs every stage over one input. Resolves when the engine behaved; throws FuzzFinding otherwise. */
export async function fuzzImage(data: Uint8Array): Promise<void> {
  const bytes = new Uint8Array(data); // never alias the fuzzer's buffer
  let opened: { dev: Qcow2Dev; io: Qcow2IoOps };
  try {
    opened = await openFuzzImage(bytes);
  } catch (err) {
    expectEngineError(err, 'open');
    return;
  }
  try {
    for (const stage of stages) {
      try {
        await stage.run(opened.dev, bytes);
      } catch (err) {
        expectEngineError(err, stage.name);
      }
    }
  } finally {
    await opened.dev.close().catch((err) => expectEngineError(err, 'close'));
  }
}
