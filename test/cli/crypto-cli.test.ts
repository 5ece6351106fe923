/**
 * The CLI on encrypted images (issue #17): qemu-img's `--object secret,…` with `--image-opts …encrypt.key-secret=…`,
 * and `--passphrase-file`, on info, map, read, convert, write and compare; checked against qemu-img with the secret.
 */
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { cli, qemuImg, scratchDir } from '../helpers/qemu';
import { imageOpts, luksCheck, luksCompare, luksGuestBytes, luksIo, makeLuks, PASSPHRASE, secretObject } from '../helpers/luks';

describe('CLI: encrypted images', function () {
  this.timeout(300_000);
  const tmp = scratchDir('q2i-cli-luks-');
  let img: string;
  let secretFile: string;
  let passFile: string;
  /** `--object secret,id=sec0,file=…` and `--image-opts` with the image's options. */
  const keyArgs = (path = img): string[] => ['--object', `secret,id=sec0,file=${secretFile}`, '--image-opts', imageOpts(path)];
  before(() => {
    img = makeLuks(tmp.path('disk.qcow2'), '4M');
    luksIo(img, ['write -P 0x5c 0 100000', 'write -P 0x5d 1000000 70000', 'write -z 30000 4096']);
    secretFile = tmp.path('secret');
    writeFileSync(secretFile, PASSPHRASE);
    passFile = tmp.path('pass.txt');
    writeFileSync(passFile, PASSPHRASE + '\n');
  });
  after(() => tmp.cleanup());

  it('read with --object file= and --image-opts: qemu-img convert bytes, no warning', async () => {
    const want = luksGuestBytes(img, tmp.path('want.raw'));
    const r = await cli(['read', ...keyArgs(), '0', '4M']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.ok(r.stdout.equals(want));
  });

  it('data= works and warns once on stderr that the secret shows in the process list', async () => {
    const r = await cli(['read', ...secretObject(), '--image-opts', imageOpts(img), '0', '512']);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /^qcow2-inspector: warning: a secret given with data= shows in the process list[^\n]*\n$/);
    assert.deepEqual([...r.stdout.subarray(0, 2)], [0x5c, 0x5c]);
  });

  it('--passphrase-file with a plain path (trailing newline dropped)', async () => {
    const r = await cli(['read', '--passphrase-file', passFile, img, '999999', '3']);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual([...r.stdout], [0, 0x5d, 0x5d]);
  });

  it('map --output=json matches qemu-img map with the secret', async () => {
    const r = await cli(['map', '--output=json', ...keyArgs()]);
    assert.equal(r.code, 0, r.stderr);
    const q = qemuImg(['map', '--output=json', ...secretObject(), '--image-opts', imageOpts(img)]);
    assert.equal(r.stdout.toString(), q.stdout);
  });

  it('info without a key: the text and JSON of qemu-img info (encrypted: yes, the LUKS header and its slots)', async () => {
    for (const extra of [[], ['--output=json']]) {
      const r = await cli(['info', ...extra, img]);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.toString(), qemuImg(['info', ...extra, img]).stdout);
    }
  });

  it('info with the key, and a legacy AES image', async () => {
    const r = await cli(['info', ...keyArgs()]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout.toString(), /encrypted: yes\n/);
    const aes = tmp.path('aes.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', ...secretObject(), '-o', 'encrypt.format=aes,encrypt.key-secret=sec0', aes, '1M']);
    const j = await cli(['info', '--output=json', aes]);
    assert.equal(j.stdout.toString(), qemuImg(['info', '--output=json', aes]).stdout);
  });

  it('convert -O raw and -O qcow2 give the guest bytes', async () => {
    const want = luksGuestBytes(img, tmp.path('want2.raw'));
    const raw = tmp.path('out.raw');
    let r = await cli(['convert', ...keyArgs(), '-O', 'raw', raw]);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(readFileSync(raw).equals(want));
    const q = tmp.path('out.qcow2');
    r = await cli(['convert', '--passphrase-file', passFile, '-O', 'qcow2', img, q]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(qemuImg(['compare', '-f', 'raw', '-F', 'qcow2', raw, q], true).code, 0);
  });

  it('write, then qemu-img compare (with the secret) against the model and check are clean', async () => {
    const copy = tmp.path('w.qcow2');
    writeFileSync(copy, readFileSync(img));
    const model = luksGuestBytes(copy, tmp.path('model.raw'));
    const data = Buffer.alloc(5000, 0x77);
    const src = tmp.path('data.bin');
    writeFileSync(src, data);
    let r = await cli(['write', ...keyArgs(copy), '12345', src]);
    assert.equal(r.code, 0, r.stderr);
    model.set(data, 12345);
    r = await cli(['write', '-z', '--passphrase-file', passFile, copy, '700', '2000']);
    assert.equal(r.code, 0, r.stderr);
    model.fill(0, 700, 2700);
    const raw = tmp.path('model.raw');
    writeFileSync(raw, model);
    const cmp = luksCompare(copy, raw);
    assert.equal(cmp.code, 0, cmp.text);
    assert.equal(luksCheck(copy).code, 0);
    // Our compare with --image-opts on both sides agrees.
    r = await cli(['compare', '--object', `secret,id=sec0,file=${secretFile}`, '--image-opts', imageOpts(copy), `driver=raw,file.filename=${raw}`]);
    assert.equal(r.code, 0, r.stderr + r.stdout.toString());
  });

  it('wrong passphrase, missing secret, no key: one line, exit 1', async () => {
    const bad = tmp.path('bad');
    writeFileSync(bad, 'nope');
    let r = await cli(['read', '--object', `secret,id=sec0,file=${bad}`, '--image-opts', imageOpts(img), '0', '1']);
    assert.equal(r.code, 1);
    assert.equal(r.stderr, `qcow2-inspector: ${img}: no key slot matches this passphrase\n`);
    r = await cli(['read', '--image-opts', imageOpts(img), '0', '1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /no secret with id 'sec0'/);
    r = await cli(['map', img]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^qcow2-inspector: [^\n]*image is encrypted \(LUKS\); encryption is not supported without a passphrase\n$/);
  });
});
