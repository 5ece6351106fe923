/**
 * The fuzz target's guest file-system stage on its own seeds (made here as at fuzz time) and on seeded random
 * byte flips of them: every failure must be a one-line GuestFsError or Qcow2Error, and each run stays quick.
 */
import { strict as assert } from 'node:assert';
import { readdirSync, readFileSync } from 'node:fs';
import { buildGuestFsSeeds } from '../fuzz/guestfs-seeds';
import { guestFsStage } from '../fuzz/guestfs-stage';
import { openFuzzImage } from '../fuzz/fuzz-io';
import { prng } from '../helpers/images';
import { scratchDir } from '../helpers/qemu';

describe('guestfs: fuzz stage on seeds and seeded mutations', function () {
  this.timeout(120_000);
  const tmp = scratchDir('q2i-guestfs-fuzz-');
  after(() => tmp.cleanup());

  it('no finding in 4 seeds x 60 mutations, each run under a second', async () => {
    assert.equal(buildGuestFsSeeds(tmp.dir), 4);
    const rnd = prng(1313);
    let opened = 0;
    for (const f of readdirSync(tmp.dir).filter((x) => x.endsWith('.qcow2'))) {
      const seed = readFileSync(tmp.path(f));
      for (let i = 0; i < 60; i++) {
        const bytes = Buffer.from(seed);
        // Flip bytes past the qcow2 header and tables mostly, where the file system lives.
        if (i) for (let k = 0, n = 1 + Math.floor(rnd() * 24); k < n; k++) bytes[Math.floor(rnd() * bytes.length)] = Math.floor(rnd() * 256);
        let dev;
        try {
          dev = (await openFuzzImage(bytes)).dev;
        } catch {
          continue;
        }
        opened++;
        const t = performance.now();
        try {
          await guestFsStage.run({ bytes, dev, checkedClean: false });
        } finally {
          await dev.close();
        }
        assert.ok(performance.now() - t < 1000, `${f} mutation ${i} took ${performance.now() - t} ms`);
      }
    }
    assert.ok(opened > 100, `${opened} inputs opened`);
  });
});
