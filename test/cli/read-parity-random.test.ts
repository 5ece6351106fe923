/**
 * Seeded random images (geometry, features, backing file and workload all drawn from the seed): our map,
 * info --backing-chain and convert -O raw must equal qemu-img's. A failing seed is reproducible by name.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { cli, qemuImg, scratchDir } from '../helpers/qemu';
import { randomImageKind, sameContent } from '../helpers/images';

const SEEDS = Number(process.env.Q2I_READ_SEEDS ?? 12);

describe('read parity with qemu-img on seeded random images', function () {
  this.timeout(120_000);
  const scratch = scratchDir('q2i-read-rand-');
  after(() => scratch.cleanup());

  for (let seed = 1; seed <= SEEDS; seed++) {
    const kind = randomImageKind(seed);
    it(kind.name, async () => {
      const dir = join(scratch.dir, `s${seed}`);
      mkdirSync(dir);
      const image = kind.build(dir);
      const ours = await cli(['map', '--output=json', image]);
      assert.equal(ours.code, 0, ours.stderr);
      assert.deepEqual(JSON.parse(ours.stdout.toString()), JSON.parse(qemuImg(['map', '--output=json', image]).stdout));
      const info = await cli(['info', '--output=json', '--backing-chain', image]);
      assert.equal(info.stdout.toString(), qemuImg(['info', '--output=json', '--backing-chain', image]).stdout);
      const conv = await cli(['convert', '-O', 'raw', image, join(dir, 'ours.raw')]);
      assert.equal(conv.code, 0, conv.stderr);
      qemuImg(['convert', '-O', 'raw', image, join(dir, 'qemu.raw')]);
      assert.ok(await sameContent(join(dir, 'ours.raw'), join(dir, 'qemu.raw')), 'converted images differ');
    });
  }
});
