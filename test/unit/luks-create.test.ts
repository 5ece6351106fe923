/**
 * The LUKS header builder on its own (no qemu): the anti-forensic split merges back to the key for each hash,
 * the area has QEMU's size for each key length, a built area unlocks with its passphrase and not with another,
 * and option checks give qemu-img's texts. qemu-img's view of what we make: test/cli/crypto-create.test.ts.
 */
import { strict as assert } from 'node:assert';
import { randomBytes } from 'node:crypto';
import { afMerge, afSplit } from '../../src/qcow2/crypto/af-merge';
import { buildLuksArea, luksAreaBytes, normalizeLuksOptions } from '../../src/qcow2/crypto/luks-create';
import { parseLuksHeader } from '../../src/qcow2/crypto/luks-header';
import { unlockLuks } from '../../src/qcow2/crypto/luks-unlock';
import type { Qcow2IoOps } from '../../src/qcow2/io/ops';

/** A read-only io over a byte array (the LUKS area at offset 0). */
function memIo(bytes: Uint8Array): Qcow2IoOps {
  return {
    path: 'mem',
    readAt: async (buf: Uint8Array, offset: number) => {
      const n = Math.max(0, Math.min(buf.length, bytes.length - offset));
      buf.set(bytes.subarray(offset, offset + n));
      return n;
    },
  } as unknown as Qcow2IoOps;
}

describe('LUKS create: header builder', function () {
  this.timeout(60_000);

  it('afSplit then afMerge gives the key back (sha1, sha256, sha512; 16 to 64-byte keys)', () => {
    for (const hash of ['sha1', 'sha256', 'sha512'])
      for (const n of [16, 24, 32, 48, 64]) {
        const key = randomBytes(n);
        const split = afSplit(key, 4000, hash);
        assert.equal(split.length, n * 4000);
        assert.deepEqual(Buffer.from(afMerge(split, n, 4000, hash)), key, `${hash} ${n}`);
      }
  });

  it("the LUKS area has QEMU's payload offset (aes-256-xts: 2068480 bytes, as qemu-img info shows)", () => {
    assert.equal(luksAreaBytes({ cipherAlg: 'aes-256', cipherMode: 'xts' }), 2068480);
    assert.equal(luksAreaBytes({ cipherAlg: 'aes-128', cipherMode: 'cbc' }), 4096 + 8 * 65536);
  });

  for (const o of [
    { cipherAlg: 'aes-256', cipherMode: 'xts', ivgenAlg: 'plain64', hashAlg: 'sha256' },
    { cipherAlg: 'aes-192', cipherMode: 'cbc', ivgenAlg: 'essiv', hashAlg: 'sha512' },
    { cipherAlg: 'aes-128', cipherMode: 'xts', ivgenAlg: 'plain', hashAlg: 'sha1' },
  ] as const) {
    it(`${o.cipherAlg}-${o.cipherMode}-${o.ivgenAlg} ${o.hashAlg}: unlocks with its passphrase only`, async () => {
      const n = normalizeLuksOptions({ format: 'luks', passphrase: 'pw', iterTime: 5, ...o }, 'mem');
      const area = await buildLuksArea(n);
      const h = parseLuksHeader(area, area.length, 'mem');
      assert.equal(h.slots.filter((s) => s.active).length, 1);
      assert.ok(h.slots[0].iterations >= 1000 && h.mkDigestIterations >= 1000);
      await unlockLuks(memIo(area), 0, h, new TextEncoder().encode('pw'), 'mem');
      await assert.rejects(unlockLuks(memIo(area), 0, h, new TextEncoder().encode('pW'), 'mem'), /no key slot matches this passphrase/);
    });
  }

  it("option errors in qemu-img's words", () => {
    const bad = (o: object, re: RegExp) => assert.throws(() => normalizeLuksOptions({ format: 'luks', passphrase: 'pw', ...o } as never, 'x.qcow2'), re);
    bad({ cipherAlg: 'twofish-128' }, /Algorithm 'twofish-128' not supported/);
    bad({ ivgenAlg: 'essiv', ivgenHashAlg: 'sha512' }, /No AES cipher with key size 64 available/);
    bad({ cipherMode: 'ecb' }, /Cipher mode 'ecb' not supported/);
    bad({ iterTime: -1 }, /iter-time/);
    bad({ passphrase: '' }, /secret is empty/);
  });
});
