/** The helpers the FAT and NTFS readers share: extents over a device of several segments, the owner table, paths. */
import assert from 'node:assert/strict';
import { IntervalTable, pushDiskExtent, splitPath } from '../../src/guestfs/reader-util';
import type { Extent, ReadOnlyDevice } from '../../src/guestfs/types';

describe('guestfs reader helpers', () => {
  it('pushDiskExtent splits a range where a two-segment device (an LVM volume) stops being linear, and merges neighbours', () => {
    // Device bytes 0..1 MiB lie at disk 10 MiB; the rest at disk 50 MiB.
    const dev: ReadOnlyDevice = {
      size: 4 << 20,
      diskOffset: 10 << 20,
      readAt: async () => undefined,
      toDiskOffset: (o) => (o < 1 << 20 ? (10 << 20) + o : (50 << 20) + o - (1 << 20)),
    };
    const out: Extent[] = [];
    pushDiskExtent(dev, out, 0, (1 << 20) - 4096, 8192);
    assert.deepEqual(out, [
      { logical: 0, diskOffset: (11 << 20) - 4096, length: 4096 },
      { logical: 4096, diskOffset: 50 << 20, length: 4096 },
    ]);
    pushDiskExtent(dev, out, 8192, (1 << 20) + 4096, 100);
    assert.equal(out.length, 2);
    assert.equal(out[1].length, 4196);
    const flat: Extent[] = [];
    pushDiskExtent({ size: 100, diskOffset: 512, readAt: async () => undefined }, flat, 0, 10, 5);
    assert.deepEqual(flat, [{ logical: 0, diskOffset: 522, length: 5 }]);
  });

  it('IntervalTable finds the owning range and the offset into it, and nothing in the gaps', () => {
    const t = new IntervalTable<string>();
    t.add(100, 10, 'b', 7);
    t.add(5, 5, 'a');
    assert.deepEqual(t.find(7), { owner: 'a', logical: 2 });
    assert.deepEqual(t.find(109), { owner: 'b', logical: 16 });
    assert.equal(t.find(10), undefined);
    assert.equal(t.find(4), undefined);
    assert.equal(t.find(110), undefined);
  });

  it('splitPath accepts absolute paths only and refuses ..', () => {
    assert.deepEqual(splitPath('/a//b/./c/'), ['a', 'b', 'c']);
    assert.deepEqual(splitPath('/'), []);
    assert.throws(() => splitPath('a/b'), /absolute/);
    assert.throws(() => splitPath('/a/../b'), /'\.\.'/);
  });
});
