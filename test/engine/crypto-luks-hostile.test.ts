/**
 * Hostile or damaged LUKS headers (issue #17): each gives one clear line, fast (every PBKDF2 iteration count and
 * size is bounded before it runs), and the image is never written.
 */
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { openImage, Qcow2Error } from '../../src/qcow2';
import { scratchDir, sha256File } from '../helpers/qemu';
import { luksIo, makeLuks, PASSPHRASE } from '../helpers/luks';
import { fuzzImage } from '../fuzz/fuzz-image';

const CRYPTO_EXT_MAGIC = Buffer.from([0x05, 0x37, 0xbe, 0x77]);

describe('encrypted images: hostile LUKS headers', function () {
  this.timeout(300_000);
  const tmp = scratchDir('q2i-luks-bad-');
  let pristine: Buffer;
  /** Offset of the LUKS header in the file, and of the header extension's (offset, length) pair. */
  let luks: number;
  let extPtr: number;
  before(() => {
    const img = makeLuks(tmp.path('good.qcow2'), '1M');
    luksIo(img, ['write -P 0x41 0 100000']);
    pristine = readFileSync(img);
    extPtr = pristine.indexOf(CRYPTO_EXT_MAGIC) + 8;
    luks = Number(pristine.readBigUInt64BE(extPtr));
    assert.equal(pristine.subarray(luks, luks + 4).toString('latin1'), 'LUKS');
  });
  after(() => tmp.cleanup());

  let n = 0;
  /** Opens a damaged copy read-write with the passphrase; returns the error line and checks nothing was written. */
  async function openDamaged(damage: (b: Buffer) => void, passphrase = PASSPHRASE): Promise<string> {
    const file = tmp.path(`bad${++n}.qcow2`);
    const bytes = Buffer.from(pristine);
    damage(bytes);
    writeFileSync(file, bytes);
    const sha = sha256File(file);
    const t = Date.now();
    const err = await openImage(file, { encryptionKey: { passphrase } }).then(
      async (dev) => {
        await dev.close();
        return undefined;
      },
      (e: unknown) => e,
    );
    assert.ok(Date.now() - t < 5000, `took ${Date.now() - t} ms`);
    assert.ok(err instanceof Qcow2Error, `expected a Qcow2Error, got ${String(err)}`);
    assert.ok(!err.message.includes('\n') && err.message.startsWith(file), err.message);
    assert.equal(sha256File(file), sha, 'the image was written');
    return err.reason;
  }

  it('the right passphrase opens the pristine copy', async () => {
    const file = tmp.path('copy.qcow2');
    writeFileSync(file, pristine);
    const dev = await openImage(file, { readOnly: true, encryptionKey: { passphrase: PASSPHRASE } });
    const b = new Uint8Array(4);
    await dev.readAt(b, 0);
    await dev.close();
    assert.deepEqual([...b], [0x41, 0x41, 0x41, 0x41]);
  });

  it('without a passphrase: refused as before', async () => {
    const file = tmp.path('nokey.qcow2');
    writeFileSync(file, pristine);
    await assert.rejects(openImage(file, { readOnly: true }), /image is encrypted \(LUKS\); encryption is not supported without a passphrase/);
  });

  it('wrong passphrase', async () => {
    assert.equal(await openDamaged(() => undefined, 'wrong'), 'no key slot matches this passphrase');
  });

  it('corrupted key slot material', async () => {
    const reason = await openDamaged((b) => {
      const material = luks + b.readUInt32BE(luks + 248) * 512;
      for (let i = 0; i < 64; i++) b[material + 100 + i] ^= 0xff;
    });
    assert.equal(reason, 'no key slot matches this passphrase');
  });

  it('master key digest mismatch', async () => {
    assert.equal(await openDamaged((b) => (b[luks + 112] ^= 1)), 'no key slot matches this passphrase');
  });

  it('iteration count 2^31 in the key slot', async () => {
    assert.match(await openDamaged((b) => b.writeUInt32BE(2 ** 31, luks + 212)), /key slot 0 iteration count 2147483648 is outside/);
  });

  it('iteration count 2^31 for the master key digest', async () => {
    assert.match(await openDamaged((b) => b.writeUInt32BE(2 ** 31, luks + 164)), /master key digest iteration count 2147483648 is outside/);
  });

  it('truncated LUKS header (extension length shorter than the header)', async () => {
    assert.match(await openDamaged((b) => b.writeBigUInt64BE(100n, extPtr + 8)), /LUKS header: truncated/);
  });

  it('LUKS area past the end of the file', async () => {
    assert.match(await openDamaged((b) => b.writeBigUInt64BE(1n << 40n, extPtr + 8)), /LUKS area lies beyond the end of the file/);
  });

  it('key material past the end of the LUKS area', async () => {
    assert.match(await openDamaged((b) => b.writeUInt32BE(0x7fffffff, luks + 248)), /key slot 0 key material lies outside the LUKS area/);
  });

  it('stripes beyond 4000', async () => {
    assert.match(await openDamaged((b) => b.writeUInt32BE(0xffffffff, luks + 252)), /stripe count 4294967295 is outside/);
  });

  it('bad magic and unknown cipher', async () => {
    assert.match(await openDamaged((b) => (b[luks] = 0)), /LUKS header: bad magic/);
    assert.match(await openDamaged((b) => b.write('twofish\0', luks + 8, 'latin1')), /LUKS cipher 'twofish' is not supported/);
  });

  it('the fuzz target takes LUKS images: pristine, low iteration counts (unlock runs) and damaged slots', async () => {
    const variants: Array<(b: Buffer) => void> = [
      () => undefined,
      (b) => {
        b.writeUInt32BE(1000, luks + 164);
        b.writeUInt32BE(1000, luks + 212);
      },
      (b) => {
        b.writeUInt32BE(1000, luks + 164);
        b.writeUInt32BE(1000, luks + 212);
        b.writeUInt32BE(1, luks + 252);
      },
      (b) => b.writeUInt32BE(0, luks + 108),
    ];
    for (const damage of variants) {
      const bytes = Buffer.from(pristine);
      damage(bytes);
      await fuzzImage(bytes);
    }
  });
});
