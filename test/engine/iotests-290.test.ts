/**
 * Ports of qemu-iotests 290 (discard on v2 and v3 images, with and without a backing file), compared with
 * qemu-img 7.2: info, map (JSON and the iotest's text), convert bytes, check and repairs. In v3 discarded
 * clusters become zero clusters; in v2 with a backing file discard must not expose the backing data, so it
 * does nothing.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { both, compareWithQemu } from './iotests-support';

describe('iotest 290: discarded clusters on v2 and v3 images, compared with qemu-img 7.2', function () {
  this.timeout(60_000);
  const dir = scratchDir('q2i-iotests-290-');
  after(() => dir.cleanup());
  const base = dir.path('base.qcow2');
  before(() => {
    qemuImg(['create', '-q', '-f', 'qcow2', base, '128k']);
    qemuIo(base, ['write -P 0xff 0 128k']);
  });

  for (const backing of [false, true]) {
    for (const compat of ['0.10', '1.1']) {
      it(`iotest 290: compat=${compat} ${backing ? 'with' : 'without'} a backing file: fill, discard, read back`, async () => {
        const tag = `${compat}-${backing}`;
        const src = dir.path(`src-${tag}.qcow2`);
        qemuImg(['create', '-q', '-f', 'qcow2', '-o', `compat=${compat}`, ...(backing ? ['-b', base, '-F', 'qcow2'] : []), src, ...(backing ? [] : ['128k'])]);
        qemuIo(src, ['write -P 0x01 0 128k']);
        qemuIo(src, ['discard 0 128k']);
        const work = (n: string): string => dir.path(`${tag}-${n}`);
        await compareWithQemu(src, work, { stderr: true });
        await both(['map'], src, src);
        // What the iotest reads back: zeros, except v2 over a backing file, where the data stays.
        const expect = backing && compat === '0.10' ? 0x01 : 0x00;
        const raw = readFileSync(work('o.raw'));
        assert.equal(raw.length, 128 * 1024);
        assert.ok(
          raw.every((b) => b === expect),
          `reads 0x${expect.toString(16)}`,
        );
      });
    }
  }
});
