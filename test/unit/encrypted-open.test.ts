/** Encrypted images open without a key for their header, tables and map; guest reads are refused (encrypted-open.ts). */
import { strict as assert } from 'node:assert';
import { isEncryptedRefusal, openEncryptedForOverview } from '../../src/extension/encrypted-open';
import { buildOverview } from '../../src/extension/overview';
import { openImage, asQcow2Error } from '../../src/qcow2';
import { createLuksImage, qemuImg, sha256File, scratchDir } from '../helpers/qemu';

describe('extension: encrypted images without a key', () => {
  const s = scratchDir('q2i-enc-');
  after(() => s.cleanup());

  it('a LUKS image made by qemu-img shows its overview and map, refuses guest reads, and is never written', async () => {
    const img = s.path('luks.qcow2');
    createLuksImage(img, '8M');
    const sum = sha256File(img);
    const refusal = await openImage(img, { readOnly: true }).then(
      () => undefined,
      (e) => asQcow2Error(e).reason,
    );
    assert.ok(refusal && isEncryptedRefusal(refusal), `the engine refuses: ${refusal}`);
    const info = JSON.parse(qemuImg(['info', '--output=json', img]).stdout);
    const dev = await openEncryptedForOverview(img);
    try {
      const o = buildOverview(dev, 0);
      assert.equal(o.virtualSize, info['virtual-size']);
      assert.equal(o.clusterSize, info['cluster-size']);
      assert.equal(o.fields.find((f) => f.name === 'crypt_method')?.meaning, 'LUKS');
      assert.ok(o.warnings.some((w) => w.kind === 'encrypted'));
      assert.equal((await dev.getMapping(0)).kind, 'unallocated');
      await assert.rejects(dev.readAt(new Uint8Array(16), 0), /encrypted \(LUKS\); guest data cannot be read/);
    } finally {
      await dev.close();
    }
    assert.equal(sha256File(img), sum);
  });
});
