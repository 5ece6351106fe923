/**
 * Ports of qemu-iotests 261 (broken snapshot tables), compared with qemu-img 7.2. Each image is rebuilt at the
 * offsets the iotest computes: info and check refuse it (exit 1) as qemu-img does, and `check -r all` repairs it
 * to the same state qemu-img's repair reaches (same stdout, exit code, double check and `info` afterwards).
 */
import { strict as assert } from 'node:assert';
import { readFileSync, truncateSync } from 'node:fs';
import { cli, qemuImg, scratchDir } from '../helpers/qemu';
import { be32, be64, both, copies, patch } from './iotests-support';

const MiB = 1 << 20;
const CS = 65536;

/** Entry length as the iotest's snapshot_table_entry_size computes it (8-byte aligned). */
function entrySize(b: Buffer, at: number): number {
  return Math.ceil((40 + b.readUInt32BE(at + 36) + b.readUInt16BE(at + 12) + b.readUInt16BE(at + 14)) / 8) * 8;
}

/** Sets refcount 1 for every cluster of [start, end) in refblock 0 (refcount_bits=16), as refblock0_allocate. */
function allocateInRefblock0(path: string, start: number, end: number): void {
  const b = readFileSync(path);
  const refblock = Number(b.readBigUInt64BE(Number(b.readBigUInt64BE(48))));
  for (let c = Math.floor(start / CS); c < Math.ceil(end / CS); c++) patch(path, refblock + c * 2, Buffer.from([0, 1]));
}

/** The 261 template: a v2 image whose three entries have 0, 42 ("very important data" at 16) and 8 bytes of extra data. */
function v2Template(path: string): void {
  qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'compat=0.10', path, '64M']);
  for (const s of ['sn0', 'sn1', 'sn2']) qemuImg(['snapshot', '-c', s, path]);
  const b = readFileSync(path);
  const table = Number(b.readBigUInt64BE(64));
  const parts: Buffer[] = [];
  let at = table;
  for (const extraLen of [0, 42, 8]) {
    const head = Buffer.from(b.subarray(at, at + 40));
    const oldExtra = b.readUInt32BE(at + 36);
    const idName = b.subarray(at + 40 + oldExtra, at + 40 + oldExtra + head.readUInt16BE(12) + head.readUInt16BE(14));
    head.writeUInt32BE(extraLen, 36);
    const extra = Buffer.alloc(extraLen);
    b.copy(extra, 0, at + 40, at + 40 + Math.min(extraLen, oldExtra));
    if (extraLen === 42) extra.write('very important data', 16);
    const entry = Buffer.concat([head, extra, idName]);
    parts.push(Buffer.concat([entry, Buffer.alloc(Math.ceil(entry.length / 8) * 8 - entry.length)]));
    at += entrySize(b, at);
  }
  patch(path, table, Buffer.concat(parts));
}

/** The fixed part of the big snapshot entry of the "too big" cases: 1 KiB extra, 65535-byte id and name. */
const BIG_ENTRY = 40 + 1024 + 65535 + 65535 + 2;
function bigEntryHead(extra = 1024): Buffer {
  const h = Buffer.alloc(40);
  h.writeUInt16BE(0xffff, 12);
  h.writeUInt16BE(0xffff, 14);
  h.writeUInt32BE(extra, 36);
  return h;
}

/** "Snapshot table too big": entries of BIG_ENTRY bytes at 1 MiB until past 64 MiB; the last has an L1 and L2 table. */
function tableTooBig(path: string): { end: number; count: number; written: number } {
  qemuImg(['create', '-q', '-f', 'qcow2', path, '64M']);
  patch(path, 64, be64(MiB));
  let offset = MiB;
  let written = 0;
  let count = 0;
  while (written <= 64 * MiB) {
    patch(path, offset, bigEntryHead());
    offset += BIG_ENTRY;
    written += BIG_ENTRY;
    count++;
  }
  truncateSync(path, offset);
  patch(path, offset - BIG_ENTRY, be64(MiB - 2 * CS));
  patch(path, offset - BIG_ENTRY + 8, be32(1));
  patch(path, MiB - 2 * CS, be64((1n << 63n) | BigInt(MiB - CS)));
  allocateInRefblock0(path, MiB - 2 * CS, offset);
  patch(path, 60, be32(count));
  return { end: offset, count, written };
}

interface Case {
  name: string;
  build(path: string): void;
  /** qemu-img info/check refuse the damaged image (exit 1). */
  refused: boolean;
  /** Snapshots left after the repair, when the case says. */
  remain?: number;
  /** qemu-img takes ~15 s per open here (65536 snapshots): its own "Double checking" stands for the re-check. */
  slowInQemu?: boolean;
}

const CASES: Case[] = [
  {
    name: 'iotest 261: repair botched v3 (entries with less than 16 bytes of extra data)',
    refused: false,
    build: (p) => {
      v2Template(p);
      patch(p, 4, be32(3));
      patch(p, 100, be32(0x68));
      patch(p, 96, be32(4));
    },
  },
  {
    name: 'iotest 261: reject too much unknown extra data (64 KiB in entry 3)',
    refused: true,
    build: (p) => {
      v2Template(p);
      qemuImg(['amend', '-o', 'compat=1.1', p]);
      qemuImg(['snapshot', '-c', 'sn3', p]);
      const b = readFileSync(p);
      let at = Number(b.readBigUInt64BE(64));
      for (let i = 0; i < 3; i++) at += entrySize(b, at);
      patch(p, at + 36, be32(0x10000));
    },
  },
  {
    name: 'iotest 261: snapshot table too big (over 64 MiB)',
    refused: true,
    build: (p) => void tableTooBig(p),
  },
  {
    name: 'iotest 261: snapshot table too big with one entry with too much extra data',
    refused: true,
    build: (p) => {
      // As the iotest: the "too big" layout, repaired, then the last three entries rebuilt with one oversized.
      const first = tableTooBig(p);
      qemuImg(['check', '-q', '-r', 'all', p], true);
      const oldOffset = first.end - BIG_ENTRY;
      let offset = first.end - 3 * BIG_ENTRY;
      let count = first.count - 3;
      let written = first.written - 2 * BIG_ENTRY;
      const extra = 64 * MiB + 8 - BIG_ENTRY - (written - 1024);
      patch(p, offset + 36, be32(extra));
      offset += BIG_ENTRY - 1024 + extra;
      written += extra - 1024;
      count++;
      for (let i = 0; i < 2; i++) {
        patch(p, offset, bigEntryHead());
        offset += BIG_ENTRY;
        written += BIG_ENTRY;
        count++;
      }
      truncateSync(p, offset);
      allocateInRefblock0(p, oldOffset, offset);
      patch(p, 60, be32(count));
    },
  },
  {
    name: 'iotest 261: too many snapshots (131072 all-zero v2 entries)',
    refused: true,
    remain: 65536,
    slowInQemu: true,
    build: (p) => {
      qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'compat=0.10', p, '64M']);
      patch(p, 64, be64(MiB));
      patch(p, 60, be32(0x20000));
      truncateSync(p, MiB + 40 * 131072);
      patch(p, MiB + 40 * 65536, be64(MiB - 2 * CS));
      patch(p, MiB + 40 * 65536 + 8, be32(1));
      patch(p, MiB - 2 * CS, be64((1n << 63n) | BigInt(MiB - CS)));
      allocateInRefblock0(p, MiB - 2 * CS, MiB + 40 * 131072);
    },
  },
];

describe('iotest 261: broken snapshot tables, compared with qemu-img 7.2', function () {
  this.timeout(180_000);
  const dir = scratchDir('q2i-iotests-261-');
  after(() => dir.cleanup());

  CASES.forEach((c, i) => {
    it(c.name, async () => {
      const src = dir.path(`src-${i}.qcow2`);
      c.build(src);
      const info = await both(['info'], src, src, false);
      assert.equal(info.q.code, c.refused ? 1 : 0, `qemu-img info: ${info.q.stderr}`);
      assert.equal(info.o.code, info.q.code, `our info: ${info.o.stderr}`);
      if (c.refused) assert.match(info.o.stderr, /^qcow2-inspector: .*: [^\n]+\n$/, 'one-line error naming the file');

      const [ref, ours] = copies(src, dir.path(`ref-${i}.qcow2`), dir.path(`ours-${i}.qcow2`));
      await both(['check'], ref, ours);
      await both(['check', '--output=json'], ref, ours);
      await both(['check', '-r', 'all'], ref, ours);
      if (!c.slowInQemu) await both(['check'], ref, ours);
      await both(['info', '--output=json'], ref, ours, false).then((r) => {
        assert.equal(r.o.code, r.q.code);
        const q = JSON.parse(r.q.stdout);
        const o = JSON.parse(r.o.stdout);
        assert.deepEqual(o.snapshots, q.snapshots, 'snapshot list after repair');
        // (An icount past 2^53, as the template's "very imp", must print exactly: compare the text too.)
        assert.equal(r.o.stdout.match(/"icount": \d+/g)?.join(), r.q.stdout.match(/"icount": \d+/g)?.join(), 'icount digits');
        if (c.remain) assert.equal((q.snapshots ?? []).length, c.remain);
      });
      assert.equal(readFileSync(ours).readUInt32BE(60), readFileSync(ref).readUInt32BE(60), 'header snapshot count');
      assert.equal(qemuImg(['compare', '-q', ours, ref], true).code, 0, "guest data equals qemu-img's repair");
      const r = await cli(['read', ours, '0', '512']);
      assert.equal(r.code, 0, r.stderr);
    });
  });
});
