/**
 * Reading LUKS-encrypted images (issue #17): every cipher, mode, IV generator and hash QEMU 7.2 creates, made by
 * qemu-img and written by qemu-io; our reads are byte-identical to `qemu-img convert` with the secret.
 */
import { strict as assert } from 'node:assert';
import { openImage } from '../../src/qcow2';
import { scratchDir } from '../helpers/qemu';
import { luksGuestBytes, luksIo, makeLuks, PASSPHRASE } from '../helpers/luks';

const ALGS = ['aes-128', 'aes-192', 'aes-256'];
const MODES = ['xts', 'cbc'];
const IVGENS = ['plain', 'plain64', 'essiv'];
const HASHES = ['sha1', 'sha256', 'sha512'];

/** Seeded qemu-io writes: unaligned, across cluster edges, and one far out. */
function seededWrites(seed: number, clusterSize: number): string[] {
  return [
    `write -P ${seed % 250} 0 ${clusterSize + 3000}`,
    `write -P ${(seed + 1) % 250} ${3 * clusterSize - 700} 1400`,
    `write -P ${(seed + 2) % 250} ${5 * clusterSize + 512} 512`,
    `write -z ${clusterSize} 4096`,
  ];
}

async function ourBytes(path: string): Promise<Uint8Array> {
  const dev = await openImage(path, { readOnly: true, encryptionKey: { passphrase: PASSPHRASE } });
  try {
    const buf = new Uint8Array(dev.virtualSize);
    await dev.readAt(buf, 0);
    return buf;
  } finally {
    await dev.close();
  }
}

describe('encrypted images: LUKS reads match qemu-img', function () {
  this.timeout(600_000);
  const tmp = scratchDir('q2i-luks-read-');
  after(() => tmp.cleanup());

  let n = 0;
  for (const alg of ALGS) {
    for (const mode of MODES) {
      for (const ivgen of IVGENS) {
        for (const hash of HASHES) {
          const seed = ++n;
          it(`${alg}-${mode}-${ivgen}, ${hash}`, async () => {
            const img = makeLuks(
              tmp.path(`m${seed}.qcow2`),
              '1M',
              `encrypt.cipher-alg=${alg},encrypt.cipher-mode=${mode},encrypt.ivgen-alg=${ivgen},encrypt.hash-alg=${hash}`,
            );
            luksIo(img, seededWrites(seed, 65536));
            const want = luksGuestBytes(img, tmp.path(`m${seed}.raw`));
            assert.ok(Buffer.from(await ourBytes(img)).equals(want), 'decrypted guest bytes differ from qemu-img convert');
          });
        }
      }
    }
  }

  for (const [cluster, bytes] of [
    ['512', 512],
    ['2M', 2 << 20],
  ] as const) {
    for (const combo of ['aes-256,encrypt.cipher-mode=xts,encrypt.ivgen-alg=plain64', 'aes-128,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=essiv']) {
      it(`cluster_size=${cluster}, ${combo.split(',')[0]} ${combo.includes('xts') ? 'xts' : 'cbc-essiv'}`, async () => {
        const img = makeLuks(tmp.path(`c${cluster}${combo.length}.qcow2`), '16M', `cluster_size=${cluster},encrypt.cipher-alg=${combo}`);
        luksIo(img, seededWrites(cluster.length, bytes));
        const want = luksGuestBytes(img, tmp.path(`c${cluster}.raw`));
        assert.ok(Buffer.from(await ourBytes(img)).equals(want));
      });
    }
  }

  it('unaligned reads inside sectors decrypt the same bytes', async () => {
    const img = makeLuks(tmp.path('u.qcow2'), '1M');
    luksIo(img, ['write -P 0x11 0 200000']);
    const want = luksGuestBytes(img, tmp.path('u.raw'));
    const dev = await openImage(img, { readOnly: true, encryptionKey: { passphrase: PASSPHRASE } });
    try {
      for (const [off, len] of [
        [1, 1],
        [511, 2],
        [65535, 700],
        [130000, 1],
        [199999, 5],
      ]) {
        const b = new Uint8Array(len);
        await dev.readAt(b, off);
        assert.ok(Buffer.from(b).equals(want.subarray(off, off + len)), `read at ${off}`);
      }
    } finally {
      await dev.close();
    }
  });

  it('a backing chain with a secret per layer (secretFor)', async () => {
    const base = makeLuks(tmp.path('base.qcow2'), '1M');
    luksIo(base, ['write -P 0x21 0 300000']);
    const top = makeLuks(tmp.path('top.qcow2'), '1M', `backing_file=${base},backing_fmt=qcow2`);
    luksIo(top, ['write -P 0x22 100000 50000'], true);
    const want = luksGuestBytes(top, tmp.path('top.raw'), true);
    const dev = await openImage(top, { readOnly: true, secretFor: () => ({ passphrase: PASSPHRASE }) });
    try {
      const buf = new Uint8Array(dev.virtualSize);
      await dev.readAt(buf, 0);
      assert.ok(Buffer.from(buf).equals(want));
    } finally {
      await dev.close();
    }
  });
});
