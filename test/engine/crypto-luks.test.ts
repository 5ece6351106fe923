/**
 * LUKS-encrypted images (issue #17), made by qemu-img and written by qemu-io: our reads are byte-identical to
 * `qemu-img convert` with the secret; then our seeded writes (unaligned, COW, zeroes) leave an image that
 * `qemu-img compare` (with the secret) finds identical to a raw model and `qemu-img check` finds clean.
 * qemu-img create benchmarks PBKDF2 for seconds per image, so the matrix is every cipher x mode x IV generator
 * with the hash rotating (every hash meets every cipher, mode and IV generator), not all 54 products; aes-192-cbc is
 * left out because qemu-img 7.2 aborts on it (an assertion in crypto/block.c).
 */
import { strict as assert } from 'node:assert';
import { writeFileSync } from 'node:fs';
import { openImage } from '../../src/qcow2';
import { qemuImg, scratchDir } from '../helpers/qemu';
import { imageOpts, luksCheck, luksCompare, luksGuestBytes, luksIo, makeLuks, PASSPHRASE, secretObject } from '../helpers/luks';
import { randomWrites } from './write-support';

const ALGS = ['aes-128', 'aes-192', 'aes-256'];
const MODES = ['xts', 'cbc'];
const IVGENS = ['plain', 'plain64', 'essiv'];
const HASHES = ['sha1', 'sha256', 'sha512'];
const KEY = { encryptionKey: { passphrase: PASSPHRASE } };

/** Seeded qemu-io writes: unaligned, across cluster edges, a zeroed range. */
function seededWrites(seed: number, clusterSize: number): string[] {
  return [
    `write -P ${seed % 250} 0 ${clusterSize + 3000}`,
    `write -P ${(seed + 1) % 250} ${3 * clusterSize - 700} 1400`,
    `write -P ${(seed + 2) % 250} ${5 * clusterSize + 512} 512`,
    `write -z ${clusterSize} 4096`,
  ];
}

async function ourBytes(path: string): Promise<Uint8Array> {
  const dev = await openImage(path, { readOnly: true, ...KEY });
  try {
    const buf = new Uint8Array(dev.virtualSize);
    await dev.readAt(buf, 0);
    return buf;
  } finally {
    await dev.close();
  }
}

/** Our reads equal qemu-img's; then our seeded writes, checked by qemu-img compare and check. */
async function readThenWrite(img: string, raw: string, seed: number, maxLen: number): Promise<void> {
  const model = luksGuestBytes(img, raw);
  assert.ok(Buffer.from(await ourBytes(img)).equals(model), 'decrypted guest bytes differ from qemu-img convert');
  const dev = await openImage(img, KEY);
  try {
    await randomWrites(dev, model, seed, { writes: 30, maxLen, flushEvery: 10 });
    await dev.writeZeroes(1000, 5000);
    model.fill(0, 1000, 6000);
  } finally {
    await dev.close();
  }
  writeFileSync(raw, model);
  const cmp = luksCompare(img, raw);
  assert.equal(cmp.code, 0, cmp.text);
  const chk = luksCheck(img);
  assert.equal(chk.code, 0, chk.text);
}

describe('encrypted images: LUKS reads and writes against qemu-img', function () {
  this.timeout(600_000);
  const tmp = scratchDir('q2i-luks-read-');
  after(() => tmp.cleanup());

  ALGS.forEach((alg, ai) =>
    MODES.forEach((mode, mi) =>
      IVGENS.forEach((ivgen, ii) => {
        // qemu-img 7.2 aborts creating aes-192-cbc (24-byte keys x 4000 stripes is not whole sectors): not a format it makes.
        if (alg === 'aes-192' && mode === 'cbc') return;
        const hash = HASHES[(ai + ii) % 3];
        const seed = ai * 100 + mi * 10 + ii;
        it(`${alg}-${mode}-${ivgen}, ${hash}`, async () => {
          const img = makeLuks(
            tmp.path(`m${seed}.qcow2`),
            '1M',
            `encrypt.cipher-alg=${alg},encrypt.cipher-mode=${mode},encrypt.ivgen-alg=${ivgen},encrypt.hash-alg=${hash}`,
          );
          luksIo(img, seededWrites(seed, 65536));
          await readThenWrite(img, tmp.path(`m${seed}.raw`), seed, 70000);
        });
      }),
    ),
  );

  for (const [cluster, bytes] of [
    ['512', 512],
    ['2M', 2 << 20],
  ] as const) {
    for (const combo of ['aes-256,encrypt.cipher-mode=xts,encrypt.ivgen-alg=plain64', 'aes-128,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=essiv']) {
      it(`cluster_size=${cluster}, ${combo.split(',')[0]} ${combo.includes('xts') ? 'xts' : 'cbc-essiv'}`, async () => {
        const img = makeLuks(tmp.path(`c${cluster}${combo.length}.qcow2`), '16M', `cluster_size=${cluster},encrypt.cipher-alg=${combo}`);
        luksIo(img, seededWrites(cluster.length, bytes));
        await readThenWrite(img, tmp.path(`c${cluster}.raw`), bytes, Math.min(3 * bytes, 300000));
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

  it('copy-on-write from an internal snapshot re-encrypts for the new host offset', async () => {
    const img = makeLuks(tmp.path('snap.qcow2'), '1M');
    luksIo(img, ['write -P 0x31 0 400000']);
    qemuImg(['snapshot', ...secretObject(), '--image-opts', imageOpts(img), '-c', 'before']);
    const raw = tmp.path('snap.raw');
    const before = luksGuestBytes(img, raw);
    const dev = await openImage(img, KEY);
    const model = before.slice();
    try {
      // Partial-cluster writes into clusters shared with the snapshot: each is copied to a new host cluster.
      await randomWrites(dev, model, 99, { writes: 20, maxLen: 20000, span: 400000 });
    } finally {
      await dev.close();
    }
    writeFileSync(raw, model);
    const cmp = luksCompare(img, raw);
    assert.equal(cmp.code, 0, cmp.text);
    assert.equal(luksCheck(img).code, 0);
    // The snapshot still decrypts to what it held.
    const snapRaw = tmp.path('snap-before.raw');
    qemuImg(['convert', ...secretObject(), '--image-opts', '-l', 'snapshot.name=before', imageOpts(img), '-O', 'raw', snapRaw]);
    assert.ok(require('node:fs').readFileSync(snapRaw).equals(Buffer.from(before)));
  });

  it('concurrent overlapping unaligned writes and zeroings land in issue order', async () => {
    const img = makeLuks(tmp.path('conc.qcow2'), '1M');
    luksIo(img, ['write -P 0x51 0 200000']);
    const raw = tmp.path('conc.raw');
    const model = luksGuestBytes(img, raw);
    const dev = await openImage(img, KEY);
    try {
      const pending: Promise<void>[] = [];
      for (let i = 0; i < 60; i++) {
        const off = (i * 7919) % 150000;
        const len = 1 + ((i * 104729) % 9000);
        if (i % 7 === 3) {
          pending.push(dev.writeZeroes(off, len));
          model.fill(0, off, off + len);
        } else {
          const b = new Uint8Array(len).fill(i + 1);
          pending.push(dev.writeAt(b, off));
          model.set(b, off);
        }
      }
      await Promise.all(pending);
    } finally {
      await dev.close();
    }
    writeFileSync(raw, model);
    const cmp = luksCompare(img, raw);
    assert.equal(cmp.code, 0, cmp.text);
    assert.equal(luksCheck(img).code, 0);
  });
});
