/**
 * Rewriting the snapshot table with complete entries (qcow2_write_snapshots, as `qemu-img check -r all`
 * does for entries with too little extra data). Crash-safe order: the new table into free clusters and their
 * refcounts, sync, then the header switch (synced), and only then the old table's clusters are freed.
 */
import { setU16, setU32, setU64, u32 } from '../format/bytes';
import { getRefcount, setRefcount } from '../format/refcount-codec';
import type { PassContext } from './context';
import { refblockOffsetAt } from './ondisk';
import { Owner, type RefcountArray } from './refcount-rebuild';
import { requireWritable } from './repair';
import { readZeroFilled } from './walk-l1l2';

const KNOWN_EXTRA = 24; // vm_state_size_large, disk_size, icount

/** Builds the table bytes: each entry with at least 24 bytes of extra data, entries 8-byte aligned. */
function buildTable(ctx: PassContext): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 0;
  for (const sn of ctx.snapshots.snapshots) {
    const pad = (8 - (size % 8)) % 8;
    if (pad) parts.push(new Uint8Array(pad));
    size += pad;
    const extraLen = Math.max(KNOWN_EXTRA, sn.extra.length);
    const head = sn.rawHeader.slice();
    setU32(head, 36, extraLen);
    setU16(head, 12, sn.idBytes.length);
    setU16(head, 14, sn.nameBytes.length);
    const extra = new Uint8Array(extraLen);
    extra.set(sn.extra);
    if (sn.extra.length < 8) setU64(extra, 0, u32(head, 32)); // vm_state_size_large from the 32-bit field
    if (sn.extra.length < 16) setU64(extra, 8, ctx.info.virtualSize); // disk_size
    if (sn.extra.length < 24) extra.fill(0xff, 16, 24); // icount unknown (-1)
    parts.push(head, extra, sn.idBytes, sn.nameBytes);
    size += head.length + extraLen + sn.idBytes.length + sn.nameBytes.length;
  }
  const table = new Uint8Array(size);
  let at = 0;
  for (const p of parts) {
    table.set(p, at);
    at += p.length;
  }
  return table;
}

/** Changes one on-disk refcount by `delta` in its existing refblock; false when there is none. */
async function adjustRefcount(ctx: PassContext, cluster: number, delta: number): Promise<boolean> {
  const { clusterSize: cs, refblockEntries: perBlock, refcountBits: bits } = ctx.info;
  const index = Math.floor(cluster / perBlock);
  if (index >= ctx.reftable.length / 8) return false;
  const off = refblockOffsetAt(ctx.reftable, index);
  if (!off || !Number.isFinite(off) || off % cs !== 0 || off + cs > ctx.fileSize) return false;
  const block = await readZeroFilled(ctx.io, off, cs);
  const value = getRefcount(block, cluster % perBlock, bits) + delta;
  setRefcount(block, cluster % perBlock, bits, value);
  await ctx.io.writeAt(block, off);
  if (cluster < ctx.onDisk.length) ctx.onDisk.counts[cluster] = value;
  return true;
}

/** Finds `n` contiguous clusters that nothing uses and whose refcounts live in existing refblocks. */
async function findFreeRun(ctx: PassContext, mem: RefcountArray, n: number): Promise<number> {
  const perBlock = ctx.info.refblockEntries;
  const covered = (c: number): boolean => {
    const i = Math.floor(c / perBlock);
    if (i >= ctx.reftable.length / 8) return false;
    const off = refblockOffsetAt(ctx.reftable, i);
    return off !== 0 && Number.isFinite(off) && off % ctx.info.clusterSize === 0 && off + ctx.info.clusterSize <= ctx.fileSize;
  };
  const limit = mem.length + n + perBlock;
  let run = 0;
  for (let c = 1; c < limit; c++) {
    const free = mem.get(c) === 0 && covered(c) && (c < ctx.onDisk.length ? ctx.onDisk.get(c) === 0 : (await ctx.onDisk.at(c)) === 0);
    run = free ? run + 1 : 0;
    if (run === n) return c - n + 1;
  }
  return -1;
}

/** Returns false (nothing written) when no space with existing refcount coverage is available. */
export async function rewriteSnapshotTable(ctx: PassContext, mem: RefcountArray): Promise<boolean> {
  requireWritable(ctx);
  const cs = ctx.info.clusterSize;
  const table = buildTable(ctx);
  const n = Math.max(1, Math.ceil(table.length / cs));
  const first = await findFreeRun(ctx, mem, n);
  if (first < 0) return false;
  // The table goes into the free clusters first: that also extends the file when they lie past its end, so a
  // crash after the refcount update leaves a visible (repairable) leak rather than a refcount past the end.
  const padded = new Uint8Array(n * cs);
  padded.set(table);
  await ctx.io.writeAt(padded, first * cs);
  for (let c = first; c < first + n; c++) {
    if (!(await adjustRefcount(ctx, c, 1))) return false;
    mem.set(c, 1, Owner.SnapshotTable);
  }
  await ctx.io.fsync();
  const ptr = new Uint8Array(12);
  setU32(ptr, 0, ctx.snapshots.snapshots.length);
  setU64(ptr, 4, first * cs);
  await ctx.io.writeAt(ptr, 60);
  await ctx.io.fsync();
  // Free the old table's clusters (only those it really held).
  const old = ctx.snapshots;
  if (old.size > 0 && Number.isFinite(old.offset) && old.offset + old.size <= ctx.fileSize + cs) {
    const from = Math.floor(old.offset / cs);
    const to = Math.floor((old.offset + old.size - 1) / cs);
    for (let c = from; c <= to; c++) {
      if (c < mem.length && mem.get(c) > 0 && mem.owners[c] === Owner.SnapshotTable && (await adjustRefcount(ctx, c, -1))) {
        mem.set(c, mem.get(c) - 1, Owner.SnapshotTable);
      }
    }
    await ctx.io.fsync();
  }
  ctx.header.snapshotsOffset = first * cs;
  return true;
}
