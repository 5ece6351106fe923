/**
 * A hostile but consistent image: 512-byte clusters, a 1 MiB disk (one-cluster L1 tables) and `count`
 * snapshots, each with its own L1 table. Written directly (qemu-img snapshot in a loop would take hours):
 * header, refcount table and blocks, the L1 tables, the snapshot table, every cluster counted once.
 */
import { writeFileSync } from 'node:fs';

const CS = 512;
const PER_BLOCK = CS / 2; // refcount_bits 16

export function manySnapshotL1s(path: string, count: number): void {
  const entry = (i: number): number => Math.ceil((40 + 24 + 2 * String(i).length + 1) / 8) * 8;
  let tableBytes = 0;
  for (let i = 0; i < count; i++) tableBytes += entry(i);
  const tableClusters = Math.ceil(tableBytes / CS);
  // Clusters: header, L1, snapshot L1s, snapshot table, then refcount blocks and table (sized to cover all).
  const dataClusters = 2 + count + tableClusters;
  let blocks = 0;
  let reftableClusters = 0;
  for (;;) {
    const total = dataClusters + blocks + reftableClusters;
    const b = Math.ceil(total / PER_BLOCK);
    const r = Math.ceil((b * 8) / CS);
    if (b === blocks && r === reftableClusters) break;
    blocks = b;
    reftableClusters = r;
  }
  const total = dataClusters + blocks + reftableClusters;
  const img = Buffer.alloc(total * CS);
  const l1 = 1;
  const firstSnapL1 = 2;
  const table = firstSnapL1 + count;
  const firstBlock = table + tableClusters;
  const reftable = firstBlock + blocks;

  img.writeUInt32BE(0x514649fb, 0);
  img.writeUInt32BE(3, 4);
  img.writeUInt32BE(9, 20); // cluster_bits
  img.writeBigUInt64BE(BigInt(1 << 20), 24); // size
  img.writeUInt32BE(32, 36); // l1_size: 32 L2 tables of 32 KiB, 256 bytes
  img.writeBigUInt64BE(BigInt(l1 * CS), 40);
  img.writeBigUInt64BE(BigInt(reftable * CS), 48);
  img.writeUInt32BE(reftableClusters, 56);
  img.writeUInt32BE(count, 60);
  img.writeBigUInt64BE(BigInt(table * CS), 64);
  img.writeUInt32BE(4, 96); // refcount_order
  img.writeUInt32BE(104, 100); // header_length; the end-of-extensions marker (zeros) follows

  let at = table * CS;
  for (let i = 0; i < count; i++) {
    const id = String(i);
    img.writeBigUInt64BE(BigInt((firstSnapL1 + i) * CS), at);
    img.writeUInt32BE(32, at + 8);
    img.writeUInt16BE(id.length, at + 12);
    img.writeUInt16BE(id.length + 1, at + 14);
    img.writeUInt32BE(24, at + 36);
    img.writeBigUInt64BE(BigInt(1 << 20), at + 48); // disk_size
    img.write(id, at + 64);
    img.write(`s${id}`, at + 64 + id.length);
    at += entry(i);
  }
  for (let b = 0; b < blocks; b++) img.writeBigUInt64BE(BigInt((firstBlock + b) * CS), reftable * CS + b * 8);
  for (let c = 0; c < total; c++) img.writeUInt16BE(1, firstBlock * CS + c * 2);
  writeFileSync(path, img);
}
