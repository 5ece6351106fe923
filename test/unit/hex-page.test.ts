/** Host side of hex page fetches: bytes through the chain with pending edits, and runs that agree with qemu-img map. */
import { strict as assert } from 'node:assert';
import { openImage } from '../../src/qcow2';
import { pageRuns, readHexPage } from '../../src/extension/hex-page';
import { EditJournal } from '../../src/extension/edit-journal';
import { qemuImg, qemuIo, scratchDir } from '../helpers/qemu';

const PAGE = 16 * 1024;

describe('hex view: page fetch (host side)', function () {
  const s = scratchDir('h6-page-');
  after(() => s.cleanup());
  const base = s.path('base.qcow2');
  const top = s.path('top.qcow2');
  before(() => {
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', base, '8M']);
    qemuIo(base, ['write -P 0x11 0 64k', 'write -c -P 0x22 1M 64k', 'write -z 2M 64k', 'write -P 0x33 3M 8k']);
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=65536', '-b', base, '-F', 'qcow2', top, '16M']);
    qemuIo(top, ['write -P 0x44 16k 8k', 'write -z 3M 4k', 'write -c -P 0x55 5M 64k', 'write -P 0x66 12M 64k']);
  });

  it('runs agree with qemu-img map (kind and layer) over the whole disk, page by page', async () => {
    const map = JSON.parse(qemuImg(['map', '--output=json', top]).stdout) as Array<{
      start: number;
      length: number;
      depth: number;
      present: boolean;
      zero: boolean;
      data: boolean;
    }>;
    const dev = await openImage(top, { readOnly: true });
    try {
      for (let off = 0; off < dev.virtualSize; off += PAGE) {
        const runs = await pageRuns(dev, off, PAGE);
        assert.equal(runs[0].start, off);
        assert.equal(
          runs.reduce((n, r) => n + r.length, 0),
          PAGE,
        );
        for (const r of runs) {
          for (const m of map.filter((e) => e.start < r.start + r.length && e.start + e.length > r.start)) {
            const where = `page 0x${off.toString(16)} run ${JSON.stringify(r)} vs ${JSON.stringify(m)}`;
            if (!m.present) assert.equal(r.kind, 'unallocated', where);
            else {
              assert.equal(r.depth, m.depth, where);
              assert.equal(r.kind === 'zero', m.zero && !m.data, where);
              assert.equal(r.kind === 'data' || r.kind === 'compressed', m.data, where);
            }
          }
        }
      }
      assert.deepEqual(
        (await pageRuns(dev, 5 * 2 ** 20, PAGE)).map((r) => [r.kind, r.depth]),
        [['compressed', 0]],
      );
      assert.deepEqual(
        (await pageRuns(dev, 2 ** 20, PAGE)).map((r) => [r.kind, r.depth]),
        [['compressed', 1]],
      );
      assert.deepEqual(
        (await pageRuns(dev, 12 * 2 ** 20 - PAGE / 2, PAGE)).map((r) => [r.kind, r.length]),
        [
          ['unallocated', PAGE / 2],
          ['data', PAGE / 2],
        ],
      );
    } finally {
      await dev.close();
    }
  });

  it('returns the guest bytes with pending edits applied, and refuses ranges outside the disk', async () => {
    const dev = await openImage(top, { readOnly: true });
    try {
      const j = new EditJournal(dev.virtualSize);
      j.apply({ offset: 16 * 1024 + 2, before: Uint8Array.of(0x44, 0x44), after: Uint8Array.of(0xde, 0xad) });
      const { bytes, pending } = await readHexPage(dev, j, 16 * 1024, 16);
      assert.deepEqual([...bytes.subarray(0, 5)], [0x44, 0x44, 0xde, 0xad, 0x44]);
      assert.deepEqual(pending, [[16 * 1024 + 2, 2]]);
      const fromBase = await readHexPage(dev, undefined, 2 ** 20, 16);
      assert.deepEqual([...fromBase.bytes.subarray(0, 2)], [0x22, 0x22]);
      assert.deepEqual(
        fromBase.runs.map((r) => [r.kind, r.depth]),
        [['compressed', 1]],
      );
      await assert.rejects(readHexPage(dev, j, dev.virtualSize - 8, 16), /top\.qcow2: hex page of 16 bytes .* outside the disk/);
      await assert.rejects(readHexPage(dev, j, 0, 2 * 1024 * 1024), /outside the disk/);
    } finally {
      await dev.close();
    }
  });
});
