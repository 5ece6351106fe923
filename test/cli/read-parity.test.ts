/**
 * Read-side parity with qemu-img 7.2: for every image kind, our `map`, `info` and `convert -O raw` must
 * give what qemu-img gives (map and info compared as parsed JSON and as text, convert byte for byte).
 */
import { strict as assert } from 'node:assert';
import { join } from 'node:path';
import { cli, qemuImg, scratchDir } from '../helpers/qemu';
import { READ_IMAGE_KINDS, sameContent } from '../helpers/images';
import { seekAddon } from '../../src/qcow2/io/holes';

describe('read parity with qemu-img (map, info, convert)', function () {
  this.timeout(120_000);
  const scratch = scratchDir('q2i-read-');
  after(() => scratch.cleanup());

  it('has the hole-detection addon (npm run build makes it); without it hole parity cannot hold', () => {
    assert.ok(seekAddon(), 'dist/native/qcow2_seek.node did not load');
  });

  READ_IMAGE_KINDS.forEach((kind, n) => {
    describe(kind.name, () => {
      let image = '';
      before(() => {
        const dir = join(scratch.dir, `k${n}`);
        require('node:fs').mkdirSync(dir);
        image = kind.build(dir);
      });

      it('map --output=json equals qemu-img map (parsed and as text)', async () => {
        const ours = await cli(['map', '--output=json', image]);
        assert.equal(ours.code, 0, ours.stderr);
        const theirs = qemuImg(['map', '--output=json', image]);
        assert.deepEqual(JSON.parse(ours.stdout.toString()), JSON.parse(theirs.stdout));
        assert.equal(ours.stdout.toString(), theirs.stdout);
      });

      it('map (human) equals qemu-img map where qemu-img can print it', async () => {
        const theirs = qemuImg(['map', image], true);
        const ours = await cli(['map', image]);
        assert.equal(ours.code, 0, ours.stderr);
        if (theirs.code === 0) assert.equal(ours.stdout.toString(), theirs.stdout);
        else {
          // qemu-img stops at the first compressed range; we list it as "(compressed)" and go on.
          assert.match(theirs.stderr, /compressed clusters/);
          assert.ok(ours.stdout.toString().startsWith(theirs.stdout), 'lines before the first compressed range differ');
          assert.match(ours.stdout.toString(), /\(compressed\)/);
        }
      });

      for (const chain of [false, true]) {
        const flags = chain ? ['--backing-chain'] : [];
        it(`info --output=json ${flags.join(' ')} equals qemu-img info`, async () => {
          const ours = await cli(['info', '--output=json', ...flags, image]);
          assert.equal(ours.code, 0, ours.stderr);
          const theirs = qemuImg(['info', '--output=json', ...flags, image]);
          assert.equal(ours.stdout.toString(), theirs.stdout);
        });
        it(`info (human) ${flags.join(' ')} equals qemu-img info`, async () => {
          const ours = await cli(['info', ...flags, image]);
          assert.equal(ours.code, 0, ours.stderr);
          assert.equal(ours.stdout.toString(), qemuImg(['info', ...flags, image]).stdout);
        });
      }

      it('convert -O raw gives the same bytes as qemu-img convert -O raw', async () => {
        const ours = image + '.ours.raw';
        const theirs = image + '.qemu.raw';
        const r = await cli(['convert', '-O', 'raw', image, ours]);
        assert.equal(r.code, 0, r.stderr);
        qemuImg(['convert', '-O', 'raw', image, theirs]);
        assert.ok(await sameContent(ours, theirs), 'converted images differ');
      });
    });
  });
});
