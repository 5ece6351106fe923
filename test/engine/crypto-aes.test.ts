/**
 * Legacy qcow2 AES (crypt_method 1), read-only (issue #17): qemu-img 7.2 still creates it with encrypt.format=aes;
 * our reads equal qemu-img convert's, writes are refused without touching the file.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { openImage } from '../../src/qcow2';
import { qemuImg, scratchDir, sha256File } from '../helpers/qemu';
import { imageOpts, luksIo, PASSPHRASE, secretObject } from '../helpers/luks';

describe('encrypted images: legacy AES', function () {
  this.timeout(120_000);
  const tmp = scratchDir('q2i-aes-');
  after(() => tmp.cleanup());

  for (const [cluster, passphrase] of [
    ['64k', PASSPHRASE],
    ['4k', 'a passphrase longer than sixteen bytes'],
  ]) {
    it(`reads match qemu-img (cluster_size=${cluster}, ${passphrase.length}-byte passphrase)`, async () => {
      const img = tmp.path(`aes${cluster}.qcow2`);
      const obj = ['--object', `secret,id=sec0,data=${passphrase}`];
      qemuImg(['create', '-q', '-f', 'qcow2', ...obj, '-o', `encrypt.format=aes,encrypt.key-secret=sec0,cluster_size=${cluster}`, img, '2M']);
      const cmds = ['write -P 0x61 0 70000', 'write -P 0x62 100001 3000', 'write -z 8192 1024'];
      if (passphrase === PASSPHRASE) luksIo(img, cmds);
      else {
        const args = [...obj, '--image-opts'];
        for (const c of cmds) args.push('-c', c);
        execFileSync('qemu-io', [...args, imageOpts(img)]);
      }
      const raw = tmp.path(`aes${cluster}.raw`);
      qemuImg(['convert', ...obj, '--image-opts', imageOpts(img), '-O', 'raw', raw]);
      const dev = await openImage(img, { readOnly: true, encryptionKey: { passphrase } });
      try {
        const buf = new Uint8Array(dev.virtualSize);
        await dev.readAt(buf, 0);
        assert.ok(Buffer.from(buf).equals(readFileSync(raw)));
      } finally {
        await dev.close();
      }
    });
  }

  it('writes are refused, the file untouched', async () => {
    const img = tmp.path('ro.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', ...secretObject(), '-o', 'encrypt.format=aes,encrypt.key-secret=sec0', img, '1M']);
    const sha = sha256File(img);
    const dev = await openImage(img, { encryptionKey: { passphrase: PASSPHRASE } });
    try {
      await assert.rejects(dev.writeAt(new Uint8Array(512), 0), /legacy AES-encrypted images are read-only/);
    } finally {
      await dev.close();
    }
    assert.equal(sha256File(img), sha);
  });
});
