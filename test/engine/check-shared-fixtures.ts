/** Images whose snapshots share L1 and L2 tables, for the check's bound on shared tables (issue #7). */
import { qemuImg } from '../helpers/qemu';
import { COPIED, Layout, Patch } from './check-fixtures';

/** `count` internal snapshots made by qemu-img (no flushes: the files are scratch). */
export function qemuSnapshots(path: string, count: number): void {
  for (let i = 1; i <= count; i++) {
    qemuImg(['snapshot', '--image-opts', '-c', `s${i}`, `driver=qcow2,file.filename=${path},cache.no-flush=on`]);
  }
}

/**
 * Replaces the snapshot table with `count` snapshots (ids 1..count) appended at the end of the file, snapshot i
 * using the L1 table at `l1Offsets[i % l1Offsets.length]` (default: the active L1 table), of the active L1's size.
 * Refcounts are left as they are: qemu-img check reports the new table as unreferenced and the old one as leaked.
 */
export function sharedSnapshots(path: string, count: number, l1Offsets?: number[]): void {
  const lay = new Layout(path);
  const p = lay.p;
  const offsets = l1Offsets ?? [lay.l1Offset];
  const diskSize = p.u64(24);
  const entries: Buffer[] = [];
  for (let i = 1; i <= count; i++) {
    const id = Buffer.from(String(i));
    const name = Buffer.from(`s${i}`);
    const e = Buffer.alloc(Math.ceil((40 + 16 + id.length + name.length) / 8) * 8);
    e.writeBigUInt64BE(BigInt(offsets[i % offsets.length]), 0);
    e.writeUInt32BE(lay.l1Size, 8);
    e.writeUInt16BE(id.length, 12);
    e.writeUInt16BE(name.length, 14);
    e.writeUInt32BE(16, 36); // extra data: vm_state_size_large, disk_size
    e.writeBigUInt64BE(diskSize, 48);
    id.copy(e, 56);
    name.copy(e, 56 + id.length);
    entries.push(e);
  }
  const table = Buffer.concat(entries);
  const offset = appendClusters(lay, table);
  p.setU32(60, count);
  p.setU64(64, BigInt(offset));
}

/** Writes `data` at the end of the file, cluster-aligned and padded to whole clusters; returns its offset. */
export function appendClusters(lay: Layout, data: Buffer): number {
  const offset = Math.ceil(lay.p.size / lay.cs) * lay.cs;
  lay.p.write(offset, Buffer.concat([data, Buffer.alloc(Math.ceil(data.length / lay.cs) * lay.cs - data.length)]));
  return offset;
}

/**
 * The worst case of sharing: the first `l1Entries` active L1 entries all point to the L2 table of entry 0, and
 * every entry of that table points to its first data cluster (COPIED set).
 */
export function denseSharedTables(path: string, l1Entries: number): Layout {
  const lay = new Layout(path);
  const l2 = BigInt(lay.l2Offset(0));
  const data = lay.l2Entry(0) & ~COPIED;
  for (let i = 0; i < l1Entries; i++) lay.setL1Entry(i, l2 | COPIED);
  const b = Buffer.alloc(lay.cs);
  for (let i = 0; i < lay.cs / 8; i++) b.writeBigUInt64BE(data | COPIED, i * 8);
  new Patch(path).write(Number(l2), b);
  return lay;
}
