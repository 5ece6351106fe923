/**
 * check_refcounts_l2: every entry of one L2 table, for an L2 table referenced `times` times in its walk context,
 * with what it counts counted `times` times. (Each walk QEMU does of the table is the same: the findings,
 * references and fragmentation figures do not depend on which reference led there.)
 */
import { entryOffset } from '../format/entries';
import {
  allocatedAndZero,
  compressedWithBitmap,
  compressedWithCopied,
  compressedWithDataFile,
  hex,
  hex64,
  l2EntryReserved,
  l2EntryUnaligned,
  unallocatedWithBitmap,
  type L2EntryPlace,
} from './findings';
import type { ReferenceCounting } from './context';
import { overlapsMetadata } from './overlap';
import { Owner } from './refcount-rebuild';
import { CheckAbort } from './tables';

const TWO_32 = 0x1_0000_0000;

/** A compressed descriptor's host offset (Infinity past 2^53, with exact hex) and on-disk size. */
function decodeCompressed(hi: number, lo: number, clusterBits: number): { offset: number; size: number; hex: string } {
  const hiOffsetBits = 62 - (clusterBits - 8) - 32;
  const offHi = hi & ((1 << hiOffsetBits) - 1);
  const sectors = ((hi & 0x3fffffff) >>> hiOffsetBits) + 1;
  const offset = offHi > 0x1fffff ? Infinity : offHi * TWO_32 + lo;
  return { offset, size: sectors * 512 - (lo & 511), hex: hex64(offHi, lo) };
}

export function checkL2(
  w: ReferenceCounting,
  table: Uint8Array,
  l2Offset: number,
  l1Index: number,
  active: boolean,
  snapshot: string | undefined,
  times: number,
): void {
  if (w.hasFixes) w.applyFixes(table, l2Offset);
  const ctx = w.ctx;
  const info = ctx.info;
  const cs = info.clusterSize;
  const ext = info.extendedL2;
  const hasDataFile = info.hasDataFile;
  const entryBytes = info.l2EntryBytes;
  const n = info.l2Entries;
  const frag = active;
  const copiedInline = active && w.opts.copiedInline && l2Offset !== 0; // check_oflag_copied skips L1 entries without an offset
  const onDisk = ctx.onDisk;
  const tracked = onDisk.length;
  const guestBase = l1Index * info.l1EntrySpan;
  const dataOwner = Owner.Data;
  let nextContiguous = 0;
  const dv = new DataView(table.buffer, table.byteOffset, table.byteLength);
  const mem = w.mem;
  const counts = mem.counts;
  const owners = mem.owners;
  const diskCounts = onDisk.counts;
  const fast = !ext && !hasDataFile;
  const fits = times <= mem.max; // a first reference counted `times` times cannot overflow
  const alignMask = (cs - 1) | 1; // low offset bits and the zero flag
  const bitsShift = info.clusterBits;
  const clustersPer4G = TWO_32 / cs;
  // Clusters wholly inside the file and tracked (a partial last cluster takes the general path).
  const lastWholeCluster = Math.min(Math.floor(ctx.fileSize / cs), mem.length, diskCounts.length);
  const shared = times > 1 ? ` (counted ${times} times: the table is referenced ${times} times)` : '';
  /** Entry i's place for a finding; `noted` adds the "(counted n times …)" note. */
  const placeOf = (i: number, noted = true): L2EntryPlace => ({
    guest: guestBase + i * cs,
    active,
    snapshot,
    where: (active ? `guest offset 0x${hex(guestBase + i * cs)}` : `snapshot ${snapshot}, L1 entry ${l1Index}, L2 entry ${i}`) + (noted ? shared : ''),
  });
  for (let i = 0, o = 0; i < n; i++, o += entryBytes) {
    const hi = dv.getUint32(o);
    const lo = dv.getUint32(o + 4);
    const bmZero = ext ? dv.getUint32(o + 8) : 0;
    const bmAlloc = ext ? dv.getUint32(o + 12) : 0;
    if (hi === 0 && lo === 0 && bmAlloc === 0) continue; // unallocated, nothing to check: the common case
    // Fast path for a plain data cluster: standard entry, no reserved bits, aligned, inside the file, first
    // reference. Everything else takes the general path below.
    if (fast && (hi & 0x7f000000) === 0 && (lo & alignMask) === 0 && (hi | lo) !== 0) {
      const k = (hi & 0x00ffffff) * clustersPer4G + (lo >>> bitsShift);
      if (k < lastWholeCluster && counts[k] === 0 && fits) {
        counts[k] = times;
        owners[k] = dataOwner;
        if (frag) {
          ctx.res.allocatedClusters += times;
          const offset = k * cs;
          if (nextContiguous && offset !== nextContiguous) ctx.res.fragmentedClusters += times;
          nextContiguous = offset + cs;
        }
        if (copiedInline && (diskCounts[k] === 1) !== hi >= 0x80000000) {
          const rc = onDisk.get(k);
          if (rc >= 0) w.copiedMismatch(rc, hi >= 0x80000000, hi, lo, guestBase + i * cs, times);
        }
        continue;
      }
    }
    const guest = guestBase + i * cs;
    if (hi & 0x40000000) {
      // Compressed cluster
      const c = decodeCompressed(hi & 0x7fffffff, lo, bitsShift);
      if (hi & 0x80000000) w.finding(compressedWithCopied(placeOf(i), c.offset, c.hex), times);
      if (hasDataFile) {
        w.finding(compressedWithDataFile(placeOf(i), i, hi, lo), times);
        continue;
      }
      if (bmZero || bmAlloc) {
        w.finding(compressedWithBitmap(placeOf(i), i, hi, lo), times);
        continue;
      }
      w.inc(c.offset, c.size, Owner.Compressed, c.hex, times);
      if (frag) {
        ctx.res.allocatedClusters += times;
        ctx.res.compressedClusters += times;
        ctx.res.fragmentedClusters += times;
      }
      continue;
    }
    if (hi & 0x3f000000 || lo & 0x1fe) w.finding(l2EntryReserved(placeOf(i), l2Offset + i * entryBytes, hi, lo), times);
    const offset = entryOffset(hi, lo);
    const copied = (hi & 0x80000000) !== 0;
    const zeroFlag = !ext && (lo & 1) !== 0;
    const allocated = offset !== 0 || (hasDataFile && copied && !zeroFlag);
    if (!allocated) {
      // ZERO_PLAIN or UNALLOCATED
      if (bmAlloc) w.finding(unallocatedWithBitmap(placeOf(i), bmAlloc), times);
      continue;
    }
    // NORMAL or ZERO_ALLOC
    if (bmZero & bmAlloc) w.finding(allocatedAndZero(placeOf(i), offset, bmZero & bmAlloc), times);
    if (offset % cs !== 0) {
      const containsData = ext ? bmAlloc !== 0 : !zeroFlag;
      const entryAt = l2Offset + i * entryBytes;
      // -r all turns an unaligned preallocated zero cluster into a plain zero one (fix_l2_entry_by_zero),
      // unless the entry's table overlaps other metadata, where QEMU refuses to write and stops.
      const fixIt = !containsData && w.opts.fixAll;
      if (fixIt && overlapsMetadata(ctx, entryAt, active)) throw new CheckAbort('ERROR: Overlap check failed');
      w.finding(l2EntryUnaligned(placeOf(i, !fixIt), offset, containsData, fixIt), fixIt ? 1 : times); // once fixed, the further references find a plain zero cluster
      if (fixIt) {
        ctx.res.corruptions--;
        ctx.res.corruptionsFixed++;
        const fixed = table.slice(i * entryBytes, (i + 1) * entryBytes);
        if (ext) {
          const fdv = new DataView(fixed.buffer);
          fdv.setUint32(0, 0);
          fdv.setUint32(4, 0);
          fdv.setUint32(8, (bmZero | bmAlloc) >>> 0);
          fdv.setUint32(12, 0);
        } else fixed.set([0, 0, 0, 0, 0, 0, 0, 1]);
        w.addZeroFix(entryAt, fixed);
        continue; // no longer references anything
      }
    }
    if (frag) {
      ctx.res.allocatedClusters += times;
      if (nextContiguous && offset !== nextContiguous) ctx.res.fragmentedClusters += times;
      nextContiguous = offset + cs;
    }
    if (!hasDataFile) {
      // Inline fast path of inc() for the common aligned, in-file case.
      const k = offset / cs;
      if (offset % cs === 0 && offset + cs <= ctx.fileSize && k < mem.length && mem.counts[k] === 0 && fits) {
        mem.counts[k] = times;
        mem.owners[k] = dataOwner;
      } else w.inc(offset, cs, dataOwner, undefined, times);
    }
    if (copiedInline) {
      const cluster = Math.floor(offset / cs);
      if (hasDataFile) w.copiedMismatch(1, copied, hi, lo, guest, times);
      else if (cluster < tracked) {
        const rc = onDisk.get(cluster);
        if (rc >= 0 && (rc === 1) !== copied) w.copiedMismatch(rc, copied, hi, lo, guest, times);
      } else w.deferCopied({ cluster, copied, hi, lo, guest, times });
    }
  }
}
