/** The references of persistent dirty bitmaps (qcow2_check_bitmaps_refcounts): directory, tables and data clusters. */
import { u32 } from '../format/bytes';
import { bitmapConstraintProblem } from '../format/bitmaps';
import { entryOffset } from '../format/entries';
import type { ReferenceCounting } from './context';
import { hex64 } from './findings';
import { Owner } from './refcount-rebuild';
import { CheckAbort, readBitmapsForCheck, type CheckBitmap } from './tables';
import { readZeroFilled } from './walk-l1l2';

export async function countBitmaps(w: ReferenceCounting, b: { dirOffset: number; dirSize: number; count: number }): Promise<void> {
  const ctx = w.ctx;
  const cs = ctx.info.clusterSize;
  w.inc(b.dirOffset, b.dirSize, Owner.BitmapDirectory);
  let list: CheckBitmap[];
  try {
    list = await readBitmapsForCheck(ctx.io, b.dirOffset, b.dirSize, b.count, cs);
  } catch (err) {
    ctx.res.corruptions++;
    throw err;
  }
  for (const bm of list) {
    const problem = bitmapConstraintProblem(bm);
    if (problem) {
      // qemu-img cannot open such an image at all; we count it as a corruption (no repair fixes it).
      ctx.res.corruptions++;
      ctx.sink.add({ kind: 'bitmaps', severity: 'corruption', message: `${problem}; QEMU refuses to open the image`, qemuLine: `ERROR ${problem}` });
    }
    w.inc(bm.tableOffset, bm.tableSize * 8, Owner.BitmapTable);
    if (!Number.isFinite(bm.tableOffset)) continue;
    // Entries past the end of the file read as zeros and count nothing: read only the part inside the file,
    // so a hostile table_size (up to 2^32 entries, 32 GiB) costs no more memory than the file has.
    const inFile = Math.max(0, Math.min(bm.tableSize * 8, ctx.fileSize - bm.tableOffset));
    const table = await readZeroFilled(ctx.io, bm.tableOffset, inFile - (inFile % 8));
    for (let i = 0; i < table.length / 8; i++) {
      const hi = u32(table, i * 8);
      const lo = u32(table, i * 8 + 4);
      const offset = entryOffset(hi, lo);
      const bad = hi & 0xff000000 || lo & 0x1fe || offset % cs !== 0 || (offset !== 0 && lo & 1);
      // QEMU loads bitmaps when it opens the image and cannot open it with a bad table entry.
      if (bad) throw new CheckAbort(`ERROR could not read the table of bitmap '${bm.name}': entry ${i} is invalid (0x${hex64(hi, lo)})`);
      if (offset) w.inc(offset, cs, Owner.BitmapData);
    }
  }
}
