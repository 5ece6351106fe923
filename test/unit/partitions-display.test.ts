/** The partition list in one LBA unit, and broken entries shown as problems (#20 point 9); sfdisk writes the tables. */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { openSync, readSync, closeSync, writeFileSync, readFileSync, truncateSync } from 'node:fs';
import { scanPartitions, type ReadFn } from '../../src/shared/partitions';
import { lbaHeader, lbaIn, partitionCells, unitNote } from '../../webview/partition-display';
import { parseOffset } from '../../src/shared/format';
import { scratchDir } from '../helpers/qemu';

const MiB = 1024 * 1024;

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

function gpt(file: string, size: number, script: string): void {
  writeFileSync(file, '');
  truncateSync(file, size);
  execFileSync('sfdisk', ['-q', file], { input: script });
}

describe('partitions: one LBA unit per view', function () {
  const s = scratchDir('q2i-part-unit-');
  after(() => s.cleanup());

  it('with 4096-byte view LBAs, a 512-byte GPT is listed in 4096-byte LBAs that the go-to box reaches', async () => {
    const f = s.path('gpt512.raw');
    gpt(f, 128 * MiB, 'label: gpt\nsize=64M, type=L, name=data\n');
    const t = await scanPartitions(fileReader(f), 128 * MiB, 4096);
    assert.equal(t.sectorSize, 512, 'the GPT states 512-byte LBAs');
    const p = t.partitions[0];
    assert.equal(p.firstLba, 2048);
    const c = partitionCells(p, t.sectorSize, 4096);
    assert.equal(c.range, `256–${256 + 16384 - 1}`);
    assert.equal(c.firstLba, '256');
    assert.equal(c.size, '64 MiB');
    assert.match(c.native, /LBA 2048–133119 \(512-byte\)/);
    // Typing the listed LBA lands on the partition's first byte.
    assert.equal(parseOffset(`lba ${c.firstLba}`, 4096), p.start);
    assert.match(unitNote(t, 4096)!, /512-byte LBAs.*4096-byte LBAs/);
    assert.equal(lbaHeader(4096), 'LBA range (4096 B)');
  });

  it('with matching units nothing is converted and no note is shown', async () => {
    const f = s.path('gpt512b.raw');
    gpt(f, 64 * MiB, 'label: gpt\nsize=8M, type=U\n');
    const t = await scanPartitions(fileReader(f), 64 * MiB, 512);
    assert.equal(partitionCells(t.partitions[0], 512, 512).range, '2048–18431');
    assert.equal(unitNote(t, 512), undefined);
  });

  it('an offset off a view-sector boundary is written as LBA + bytes', () => {
    assert.equal(lbaIn(34 * 512, 4096), '4+1024B');
    assert.equal(lbaIn(8192, 4096), '2');
  });

  it('a GPT entry whose last LBA is before its first shows a problem, not a negative size', async () => {
    const f = s.path('gpt-broken.raw');
    gpt(f, 64 * MiB, 'label: gpt\nsize=8M, type=L, name=good\nsize=8M, type=L, name=broken\n');
    const img = readFileSync(f);
    // Entry 2 (entries at LBA 2, 128 bytes each): last LBA = first LBA - 54 (the "-27 KiB").
    const e = 1024 + 128;
    const first = img.readUInt32LE(e + 32);
    img.writeUInt32LE(first - 55, e + 40);
    writeFileSync(f, img);
    const t = await scanPartitions(fileReader(f), 64 * MiB, 512);
    const broken = t.partitions[1];
    assert.match(broken.problem!, /last LBA \d+ is before first LBA \d+/);
    assert.ok(broken.end - broken.start >= 0);
    const c = partitionCells(broken, 512, 512);
    assert.match(c.size, /^⚠ invalid range/);
    assert.doesNotMatch(c.size + c.range, /-\d/);
    assert.equal(partitionCells(t.partitions[0], 512, 512).problem, undefined);
    assert.match(t.warnings.join('\n'), /GPT partition 2 has an invalid LBA range/);
  });
});
