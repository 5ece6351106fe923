/**
 * `snapshot -c` and `bitmap --add --disable` (write/snapshot-create.ts, write/bitmap-add.ts) on a writable copy of
 * the input. Any image may be refused with a Qcow2Error; a clean one must stay clean, its snapshot must read as
 * the disk, and the bitmap must be listed after a reopen.
 */
import { Buffer } from 'node:buffer';
import { checkImage } from '../../src/qcow2/check/check';
import { devForCheck } from '../../src/qcow2/check/open-for-check';
import { FuzzFinding } from './finding';
import { BoundedMemIo, FUZZ_PATH, openFuzzIo } from './fuzz-io';
import type { FuzzStage } from './stage-types';

const GROWTH = 16 * 1024 * 1024;
const COMPARE_BYTES = 256 * 1024;

export const historyStage: FuzzStage = {
  name: 'history',
  async run(ctx) {
    const io = new BoundedMemIo(ctx.bytes, FUZZ_PATH, ctx.bytes.length + GROWTH);
    let dev = await openFuzzIo(io, true);
    let added = false;
    try {
      await dev.createSnapshot('fuzz');
      if (dev.info.version >= 3 && dev.bitmaps.length === 0) {
        await dev.addBitmap('fuzz', { disabled: true });
        added = true;
      }
    } finally {
      await dev.close();
    }
    if (!ctx.checkedClean) return;
    dev = await openFuzzIo(io, false);
    try {
      const n = Math.min(COMPARE_BYTES, dev.virtualSize);
      const now = new Uint8Array(n);
      const then = new Uint8Array(n);
      await dev.readAt(now, 0);
      await (await dev.atSnapshot('fuzz', 'name')).readAt(then, 0);
      if (Buffer.compare(now, then) !== 0) throw new FuzzFinding('a new snapshot of a clean image does not read as the disk');
      // Only when this stage added it (an image with bitmaps already gets none: found by the fuzzer, crash-1566a600).
      if (added && !dev.bitmaps.some((b) => b.name === 'fuzz')) throw new FuzzFinding('the added bitmap is not listed after a reopen');
    } finally {
      await dev.close();
    }
    const after = await checkImage(await devForCheck(io, true));
    if (after.summary.corruptions > 0 || after.failure) {
      throw new FuzzFinding(
        `snapshot -c / bitmap --add on a clean image left ${after.summary.corruptions} corruption(s): ${after.findings[0]?.message ?? after.failure}`,
      );
    }
  },
};
