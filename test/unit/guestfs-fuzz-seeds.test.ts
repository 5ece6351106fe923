/**
 * The FAT/NTFS fuzz seeds (made here as at fuzz time) run through the whole fuzz target without a finding, and
 * each one really opens as the file system it was made as (so the guestfs stage exercises the readers).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fuzzImage, openFuzzImage } from '../fuzz/fuzz-image';
import { buildFatNtfsSeeds } from '../fuzz/guestfs-seeds-fat-ntfs';
import { openFat } from '../../src/guestfs/fat/index';
import { openNtfs } from '../../src/guestfs/ntfs/index';
import { scratchDir } from '../helpers/qemu';

describe('guestfs fuzz seeds', function () {
  const tmp = scratchDir('q2i-gfs-seeds-');
  after(() => tmp.cleanup());

  it('every FAT/NTFS seed opens, lists, and passes every fuzz stage', async () => {
    const seeds = await buildFatNtfsSeeds(tmp.path('seeds'));
    assert.equal(seeds.length, 5);
    for (const seed of seeds) {
      const bytes = readFileSync(seed);
      assert.ok(bytes.length <= 128 * 1024, `${seed}: ${bytes.length} bytes`);
      const { dev } = await openFuzzImage(bytes);
      const offset = seed.includes('mbr-') ? 1 << 20 : 0;
      const size = dev.virtualSize - offset;
      const gdev = { size, diskOffset: offset, readAt: async (b: Uint8Array, at: number) => void (await dev.readAt(b, offset + at)) };
      const fs = seed.includes('ntfs') ? await openNtfs(gdev) : await openFat(gdev);
      assert.ok((await fs.list('/')).length >= 1, seed);
      await dev.close();
      await fuzzImage(bytes);
    }
  });
});
