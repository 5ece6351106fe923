/** Partition decoding, compared with what sfdisk (util-linux) wrote and reports. */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { openSync, readSync, closeSync, writeFileSync, readFileSync, truncateSync } from 'node:fs';
import { scanPartitions, crc32, type ReadFn } from '../../src/shared/partitions';
import { scratchDir } from '../helpers/qemu';

const MiB = 1024 * 1024;

function sfdisk(file: string, script: string): void {
  execFileSync('sfdisk', ['-q', file], { input: script });
}

function sfdiskJson(file: string): {
  partitiontable: {
    id: string;
    partitions: Array<{ node: string; start: number; size: number; type: string; uuid?: string; name?: string; bootable?: boolean }>;
  };
} {
  return JSON.parse(execFileSync('sfdisk', ['--json', file]).toString());
}

function fileReader(file: string): ReadFn {
  return async (offset, length) => {
    const fd = openSync(file, 'r');
    try {
      const buf = new Uint8Array(length);
      readSync(fd, buf, 0, length, offset);
      return buf;
    } finally {
      closeSync(fd);
    }
  };
}

describe('partitions: MBR and GPT decoding (sfdisk as the oracle)', function () {
  const s = scratchDir('h6-part-');
  after(() => s.cleanup());

  it('decodes a GPT made by sfdisk: names, types, GUIDs, LBA ranges', async () => {
    const f = s.path('gpt.raw');
    truncateSync(writeEmpty(f), 64 * MiB);
    sfdisk(f, 'label: gpt\nsize=10M, type=U, name=esp\nsize=20M, type=S, name="my swap"\ntype=L\n');
    const want = sfdiskJson(f).partitiontable;
    const t = await scanPartitions(fileReader(f), 64 * MiB);
    assert.equal(t.scheme, 'gpt');
    assert.deepEqual(t.warnings, []);
    assert.equal(t.diskId, want.id);
    assert.equal(t.partitions.length, want.partitions.length);
    want.partitions.forEach((w, i) => {
      const p = t.partitions[i];
      assert.equal(p.number, Number(/(\d+)$/.exec(w.node)![1]));
      assert.equal(p.firstLba, w.start);
      assert.equal(p.lastLba, w.start + w.size - 1);
      assert.equal(p.start, w.start * 512);
      assert.equal(p.end, (w.start + w.size) * 512);
      assert.equal(p.type, w.type);
      assert.equal(p.guid, w.uuid);
      assert.equal(p.name, w.name ?? '');
    });
    assert.deepEqual(
      t.partitions.map((p) => p.typeName),
      ['EFI System', 'Linux swap', 'Linux filesystem'],
    );
  });

  it('falls back to the backup GPT header when the primary is damaged, and says so', async () => {
    const f = s.path('gpt-bad.raw');
    truncateSync(writeEmpty(f), 16 * MiB);
    sfdisk(f, 'label: gpt\nsize=4M, type=L, name=root\n');
    const img = readFileSync(f);
    img[512 + 16] ^= 0xff;
    writeFileSync(f, img);
    const t = await scanPartitions(fileReader(f), 16 * MiB);
    assert.equal(t.scheme, 'gpt');
    assert.equal(t.partitions.length, 1);
    assert.equal(t.partitions[0].name, 'root');
    assert.match(t.warnings.join('\n'), /primary GPT header is invalid .*backup/);
  });

  it('reports a damaged entry array CRC but still lists the entries', async () => {
    const f = s.path('gpt-crc.raw');
    truncateSync(writeEmpty(f), 16 * MiB);
    sfdisk(f, 'label: gpt\nsize=4M, type=L, name=root\n');
    const img = readFileSync(f);
    img[1024 + 56] = 'X'.charCodeAt(0); // first letter of the name
    writeFileSync(f, img);
    const t = await scanPartitions(fileReader(f), 16 * MiB);
    assert.equal(t.partitions[0].name, 'Xoot');
    assert.match(t.warnings.join('\n'), /entry array CRC does not match/);
  });

  it('decodes an MBR with an extended partition and logical partitions', async () => {
    const f = s.path('mbr.raw');
    truncateSync(writeEmpty(f), 64 * MiB);
    sfdisk(f, 'label: dos\n,10M,83,*\n,10M,82\n,,5\n,5M,83\n,5M,7\n');
    const want = sfdiskJson(f).partitiontable;
    const t = await scanPartitions(fileReader(f), 64 * MiB);
    assert.equal(t.scheme, 'mbr');
    assert.deepEqual(t.warnings, []);
    assert.equal('0x' + t.diskId, want.id);
    assert.deepEqual(
      t.partitions.map((p) => [p.number, p.firstLba, p.lastLba - p.firstLba + 1, parseInt(p.type, 16).toString(16), !!p.bootable]),
      want.partitions.map((w) => [Number(/(\d+)$/.exec(w.node)![1]), w.start, w.size, w.type, !!w.bootable]),
    );
    assert.equal(t.partitions.find((p) => p.number === 3)!.extended, true);
    assert.equal(t.partitions.find((p) => p.number === 1)!.typeName, 'Linux');
  });

  it('finds no table on a blank disk, and survives a looping EBR chain', async () => {
    const blank = new Uint8Array(1 * MiB);
    const read: ReadFn = async (o, n) => blank.slice(o, o + n);
    assert.equal((await scanPartitions(read, blank.length)).scheme, 'none');
    // MBR with an extended partition at LBA 2048: EBR 1 links to EBR 2 (LBA 2148), which links to itself.
    const d = new Uint8Array(4 * MiB);
    d[510] = 0x55;
    d[511] = 0xaa;
    d[446 + 4] = 0x05;
    writeLe32(d, 446 + 8, 2048);
    writeLe32(d, 446 + 12, 4096);
    for (const lba of [2048, 2148]) {
      const at = lba * 512;
      d[at + 510] = 0x55;
      d[at + 511] = 0xaa;
      d[at + 446 + 4] = 0x83;
      writeLe32(d, at + 446 + 8, 1);
      writeLe32(d, at + 446 + 12, 10);
      d[at + 462 + 4] = 0x05;
      writeLe32(d, at + 462 + 8, 100);
      writeLe32(d, at + 462 + 12, 20);
    }
    const t = await scanPartitions(async (o, n) => d.slice(o, o + n), d.length);
    assert.equal(t.scheme, 'mbr');
    assert.deepEqual(
      t.partitions.filter((p) => p.number >= 5).map((p) => p.firstLba),
      [2049, 2149],
    );
    assert.match(t.warnings.join('\n'), /loops/);
  });

  it('crc32 matches the standard check value', () => {
    assert.equal(crc32(new TextEncoder().encode('123456789')), 0xcbf43926);
  });
});

function writeEmpty(f: string): string {
  writeFileSync(f, '');
  return f;
}

function writeLe32(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
  b[at + 2] = (v >>> 16) & 0xff;
  b[at + 3] = (v >>> 24) & 0xff;
}
