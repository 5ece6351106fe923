/**
 * `create -o encrypt.format=luks,…` (issue #17): images we make open in qemu-img and qemu-io with the secret,
 * across ciphers, modes, IV generators, hashes and cluster sizes; our writes read back in qemu-io, compare equal
 * to a raw model in qemu-img compare, and check clean; `info` shows what qemu-img shows for its own equivalent.
 */
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cli, createLuksImage, qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { imageOpts, luksCheck, luksCompare, luksIo, PASSPHRASE, secretObject } from '../helpers/luks';

/** Seeded bytes (xorshift32): a different run per seed, the same every time. */
function seededBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed * 2654435761 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Each line of `qemu-img info` text with what differs between two images of the same options masked. */
const infoShape = (text: string): string =>
  text
    .replace(/^image: .*$/m, 'image: X')
    .replace(/uuid: [0-9a-f-]+/, 'uuid: U')
    .replace(/iters: \d+/g, 'iters: N')
    .replace(/disk size: .*/, 'disk size: D');

interface Combo {
  o: string;
  cluster: number;
}

const COMBOS: Combo[] = [
  { o: '', cluster: 65536 },
  { o: 'encrypt.cipher-alg=aes-128,encrypt.cipher-mode=xts,encrypt.ivgen-alg=plain,encrypt.hash-alg=sha1', cluster: 512 },
  { o: 'encrypt.cipher-alg=aes-256,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=essiv,encrypt.ivgen-hash-alg=sha256,encrypt.hash-alg=sha512', cluster: 65536 },
  { o: 'encrypt.cipher-alg=aes-128,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=plain64', cluster: 512 },
  { o: 'encrypt.cipher-alg=aes-192,encrypt.cipher-mode=xts,encrypt.ivgen-alg=plain64,encrypt.hash-alg=sha256', cluster: 65536 },
];

describe('CLI: create encrypted (LUKS) images', function () {
  this.timeout(600_000);
  const tmp = scratchDir('q2i-cli-luks-create-');
  let secretFile: string;
  before(() => {
    secretFile = tmp.path('secret');
    writeFileSync(secretFile, PASSPHRASE);
  });
  after(() => tmp.cleanup());

  const ourCreate = (path: string, o: string, cluster: number) =>
    cli([
      'create',
      '-q',
      '-f',
      'qcow2',
      '--object',
      `secret,id=sec0,file=${secretFile}`,
      '-o',
      `encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10,cluster_size=${cluster}${o ? ',' + o : ''}`,
      path,
      '1M',
    ]);

  COMBOS.forEach(({ o, cluster }, n) => {
    it(`${o || 'defaults (aes-256-xts-plain64, sha256)'}, ${cluster} B clusters: qemu-img info/check/compare and qemu-io agree`, async () => {
      const img = tmp.path(`ours-${n}.qcow2`);
      const c = await ourCreate(img, o, cluster);
      assert.equal(c.code, 0, c.stderr);
      // The same fields qemu-img shows for its own image made with the same options.
      const theirs = tmp.path(`theirs-${n}.qcow2`);
      createLuksImage(theirs, '1M', { passphrase: PASSPHRASE, extra: `cluster_size=${cluster}${o ? ',' + o : ''}` });
      assert.equal(infoShape(qemuImg(['info', img]).stdout), infoShape(qemuImg(['info', theirs]).stdout));
      assert.equal(luksCheck(img).code, 0);

      // Our writes at unaligned offsets, across clusters; qemu-io reads them back, qemu-img compares with the model.
      const model = new Uint8Array(1 << 20);
      const writes: Array<[number, number]> = [
        [1000, 70000],
        [300_000, 513],
        [1_048_000, 576],
      ];
      for (const [i, [off, len]] of writes.entries()) {
        const data = seededBytes(len, 40 + i + n * 7);
        model.set(data, off);
        const src = tmp.path(`w-${n}-${i}`);
        writeFileSync(src, data);
        const w = await cli(['write', '--object', `secret,id=sec0,file=${secretFile}`, '--image-opts', imageOpts(img), String(off), src]);
        assert.equal(w.code, 0, w.stderr);
      }
      const raw = tmp.path(`model-${n}.raw`);
      writeFileSync(raw, model);
      const cmp = luksCompare(img, raw);
      assert.equal(cmp.code, 0, cmp.text);
      const check = luksCheck(img);
      assert.equal(check.code, 0, check.text);
      // qemu-io with the secret reads a written run back (its -P pattern check needs one byte value, so write one).
      luksIo(img, ['write -P 0x6b 4096 8192']);
      const r = await cli(['read', '--passphrase-file', secretFile, img, '4096', '8192']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.every((b) => b === 0x6b));
    });
  });

  it('--passphrase-file instead of --object: qemu-io opens it with that passphrase', async () => {
    const img = tmp.path('pf.qcow2');
    const c = await cli(['create', '--passphrase-file', secretFile, '-o', 'encrypt.format=luks,encrypt.iter-time=10', img, '64K']);
    assert.equal(c.code, 0, c.stderr);
    assert.match(c.stdout.toString(), /^Formatting '.*pf\.qcow2', fmt=qcow2 encrypt\.format=luks encrypt\.iter-time=10 cluster_size=65536 /);
    luksIo(img, ['write -P 0x11 0 64k', 'read -P 0x11 0 64k']);
    assert.equal(luksCheck(img).code, 0);
  });

  it('convert -O qcow2 -o encrypt.format=luks: an encrypted copy that qemu-img compares equal and checks clean', async () => {
    const plain = tmp.path('plain.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', plain, '4M']);
    qemuIo(plain, ['write -P 0x33 100000 200000', 'write -P 0x44 3000000 70000']);
    const enc = tmp.path('converted.qcow2');
    const r = await cli([
      'convert',
      '-O',
      'qcow2',
      '--object',
      `secret,id=sec0,file=${secretFile}`,
      '-o',
      'encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10,cluster_size=512',
      plain,
      enc,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const cmp = qemuImg(['compare', ...secretObject(), '--image-opts', imageOpts(enc), `driver=qcow2,file.filename=${plain}`], true);
    assert.equal(cmp.code, 0, cmp.stdout + cmp.stderr);
    assert.equal(luksCheck(enc).code, 0);
    const c = await cli(['convert', '-c', '-O', 'qcow2', '--passphrase-file', secretFile, '-o', 'encrypt.format=luks', plain, tmp.path('c.qcow2')]);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /compressed clusters are not allowed in encrypted images/);
  });

  it('a wrong secret does not open what we made', () => {
    const img = tmp.path('wrong.qcow2');
    return ourCreate(img, '', 65536).then((c) => {
      assert.equal(c.code, 0, c.stderr);
      const r = qemuImg(['convert', ...secretObject('not it'), '--image-opts', imageOpts(img), '-O', 'raw', tmp.path('wrong.raw')], true);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /Invalid password, cannot unlock any keyslot/);
    });
  });

  /** Guest bytes through test/helpers/luks1_read.py, a LUKS1 reader that shares no code with ours. */
  const independentRead = (img: string, offset: number, length: number): Buffer =>
    execFileSync('python3', [join(__dirname, '../helpers/luks1_read.py'), img, PASSPHRASE, String(offset), String(length)]);

  it('the independent LUKS1 reader reads what qemu-io wrote into qemu-img images (so it can judge ours)', () => {
    for (const extra of ['cluster_size=512,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=essiv', 'encrypt.cipher-alg=aes-128,encrypt.hash-alg=sha1']) {
      const img = tmp.path('q-ref.qcow2');
      createLuksImage(img, '1M', { passphrase: PASSPHRASE, extra });
      luksIo(img, ['write -P 0x77 1000 3000']);
      const got = independentRead(img, 990, 3020);
      assert.ok(
        got.subarray(0, 10).every((b) => b === 0) && got.subarray(10, 3010).every((b) => b === 0x77) && got.subarray(3010).every((b) => b === 0),
        extra,
      );
    }
  });

  // QEMU 7.2 cannot make or open any aes-192-cbc LUKS image: its 96000-byte key material is not whole sectors,
  // and qemu-img/qemu-io abort on an assertion (crypto/block.c). So our aes-192-cbc images are checked with the
  // independent reader; aes-192-xts, which QEMU handles, is checked with qemu above.
  for (const cluster of [512, 65536]) {
    it(`aes-192-cbc (${cluster} B clusters): our create and write, read back by the independent LUKS1 reader`, async () => {
      const img = tmp.path(`aes192cbc-${cluster}.qcow2`);
      const c = await ourCreate(img, 'encrypt.cipher-alg=aes-192,encrypt.cipher-mode=cbc,encrypt.ivgen-alg=plain64', cluster);
      assert.equal(c.code, 0, c.stderr);
      assert.match(qemuImg(['info', img]).stdout, /cipher alg: aes-192\n[^]*cipher mode: cbc/);
      const data = seededBytes(70000, cluster);
      const src = tmp.path('aes192.bin');
      writeFileSync(src, data);
      const w = await cli(['write', '--passphrase-file', secretFile, img, '5000', src]);
      assert.equal(w.code, 0, w.stderr);
      const got = independentRead(img, 4900, 70200);
      assert.ok(got.subarray(0, 100).every((b) => b === 0));
      assert.ok(Buffer.from(data).equals(got.subarray(100, 70100)));
      assert.ok(got.subarray(70100).every((b) => b === 0));
    });
  }

  const BAD: Array<[string, string[], RegExp]> = [
    ['no secret', ['-o', 'encrypt.format=luks'], /x\.qcow2: Parameter 'encrypt\.key-secret' is required for cipher$/],
    ['unknown secret id', ['-o', 'encrypt.format=luks,encrypt.key-secret=nope'], /x\.qcow2: No secret with id 'nope'$/],
    ['no format', ['-o', 'encrypt.key-secret=sec0'], /x\.qcow2: Parameter 'encrypt\.format' is missing$/],
    ['bad format', ['-o', 'encrypt.format=foo,encrypt.key-secret=sec0'], /x\.qcow2: Parameter 'format' does not accept value 'foo'$/],
    ['unknown option', ['-o', 'encrypt.format=luks,encrypt.key-secret=sec0,encrypt.foo=1'], /x\.qcow2: Invalid parameter 'encrypt\.foo'$/],
    ['iter-time not a number', ['-o', 'encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=abc'], /Parameter 'encrypt\.iter-time' expects a number$/],
    ['bad ivgen', ['-o', 'encrypt.format=luks,encrypt.key-secret=sec0,encrypt.ivgen-alg=foo'], /Parameter 'ivgen-alg' does not accept value 'foo'$/],
    [
      'essiv with sha1',
      ['-o', 'encrypt.format=luks,encrypt.key-secret=sec0,encrypt.ivgen-alg=essiv,encrypt.ivgen-hash-alg=sha1'],
      /No AES cipher with key size 20 available$/,
    ],
    ['des', ['-o', 'encrypt.format=luks,encrypt.key-secret=sec0,encrypt.cipher-alg=des'], /Algorithm 'des' not supported$/],
    [
      'ecb (QEMU makes it; we cannot read it back)',
      ['-o', 'encrypt.format=luks,encrypt.key-secret=sec0,encrypt.cipher-mode=ecb'],
      /Cipher mode 'ecb' not supported/,
    ],
    ['legacy AES', ['-o', 'encrypt.format=aes,encrypt.key-secret=sec0'], /legacy AES-encrypted images is not supported/],
    ['with a data file', ['-o', 'encrypt.format=luks,encrypt.key-secret=sec0,data_file=d.raw'], /encryption with an external data file is not supported/],
  ];
  for (const [name, args, err] of BAD) {
    it(`refuses ${name} in one line, making no file`, async () => {
      const path = tmp.path('x.qcow2');
      const r = await cli(['create', '--object', `secret,id=sec0,file=${secretFile}`, ...args, path, '1M']);
      assert.equal(r.code, 1);
      const lines = r.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0], err);
      assert.equal(qemuImg(['info', path], true).code, 1, 'no image was made');
    });
  }
});
