/**
 * qcow2_check_metadata_overlap as check's repairs apply it before rewriting a table: QEMU's default ("cached")
 * overlap checks, which do not look at inactive L2 tables or at data clusters.
 */
import { entryOffset, entryWords } from '../format/entries';
import type { PassContext } from './context';
import { refblockOffsetAt } from './ondisk';

/**
 * Does the cluster holding `offset` hold other metadata: the header, the L1 or refcount table, a refcount block,
 * the snapshot table or a snapshot's L1 table, or (unless `activeL2` says active L2 tables may be overwritten, as
 * when an active L2 table itself is rewritten) an active L2 table?
 */
export function overlapsMetadata(ctx: PassContext, offset: number, activeL2: boolean): boolean {
  const cs = ctx.info.clusterSize;
  const c = Math.floor(offset / cs);
  const within = (start: number, bytes: number): boolean => bytes > 0 && c >= Math.floor(start / cs) && c <= Math.floor((start + bytes - 1) / cs);
  const h = ctx.header;
  if (c === 0 || within(h.l1TableOffset, h.l1Size * 8) || within(h.refcountTableOffset, ctx.reftable.length)) return true;
  if (within(ctx.snapshots.offset, ctx.snapshots.size)) return true;
  for (const sn of ctx.snapshots.snapshots) if (Number.isFinite(sn.l1Offset) && within(sn.l1Offset, sn.l1Size * 8)) return true;
  for (let i = 0; i < ctx.reftable.length / 8; i++) {
    const off = refblockOffsetAt(ctx.reftable, i);
    if (off && Math.floor(off / cs) === c) return true;
  }
  if (!activeL2) {
    for (let i = 0; i < h.l1Size; i++) {
      const off = entryOffset(...entryWords(ctx.l1, i * 8));
      if (off && Math.floor(off / cs) === c) return true;
    }
  }
  return false;
}
