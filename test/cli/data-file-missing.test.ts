/**
 * An image whose external data file is missing, compared with qemu-img 7.2: `info` (text and JSON) opens it
 * and shows the same output (qemu-img info does not open the data file); `check` and `check -r all` fail with
 * exit 1 and one line naming the data file, as qemu-img does; reading guest data fails with one line naming it.
 * Nothing is written. (qemu-img resolves a relative data file name against its working directory; we resolve it
 * against the image's folder, as for backing files, so our messages name the full path.)
 */
import { strict as assert } from 'node:assert';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cli, qemuImg, qemuIo, scratchDir, sha256File } from '../helpers/qemu';

describe('missing external data file, compared with qemu-img 7.2', function () {
  this.timeout(60_000);
  const dir = scratchDir('q2i-datafile-missing-');
  after(() => dir.cleanup());
  const img = dir.path('img.qcow2');
  const data = dir.path('img.data');

  before(() => {
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', `data_file=${data}`, img, '64M']);
    qemuIo(img, ['write -P 0x5a 0 1M']);
    rmSync(data);
  });

  for (const args of [['info'], ['info', '--output=json']]) {
    it(`${args.join(' ')}: same output and exit code as qemu-img`, async () => {
      const q = qemuImg([...args, img], true);
      const o = await cli([...args, img]);
      assert.equal(q.code, 0, q.stderr);
      assert.equal(o.code, q.code, o.stderr);
      assert.equal(o.stdout.toString(), q.stdout);
    });
  }

  for (const args of [['check'], ['check', '--output=json'], ['check', '-r', 'all']]) {
    it(`${args.join(' ')}: exit 1 with qemu-img's reason, naming the data file`, async () => {
      const before = sha256File(img);
      const q = qemuImg([...args, img], true);
      const o = await cli([...args, img]);
      assert.equal(q.code, 1);
      assert.equal(o.code, 1);
      assert.equal(q.stderr, `qemu-img: Could not open '${img}': Could not open '${data}': No such file or directory\n`);
      assert.equal(o.stderr, `qcow2-inspector: ${img}: Could not open '${data}': No such file or directory\n`);
      assert.equal(o.stdout.length, 0);
      assert.equal(sha256File(img), before, 'image unchanged');
    });
  }

  for (const args of [
    ['read', img, '0', '512'],
    ['map', img],
    ['convert', '-O', 'raw', img, dir.path('out.raw')],
  ]) {
    it(`${args[0]}: one line naming the data file, exit 1`, async () => {
      const o = await cli(args);
      assert.equal(o.code, 1);
      assert.match(o.stderr, new RegExp(`^qcow2-inspector: ${img}: cannot open external data file ${data}: ENOENT[^\\n]*\\n$`));
    });
  }
});

describe('data file required but not named (the extension removed), compared with qemu-img 7.2', function () {
  this.timeout(60_000);
  const dir = scratchDir('q2i-datafile-unnamed-');
  after(() => dir.cleanup());
  const img = dir.path('img.qcow2');

  before(() => {
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', `data_file=${dir.path('img.data')}`, img, '64M']);
    // Turn the data file name extension (0x44415441) into an unknown one: the feature bit stays set.
    const b = readFileSync(img);
    for (let at = b.readUInt32BE(100); b.readUInt32BE(at) !== 0; at += 8 + Math.ceil(b.readUInt32BE(at + 4) / 8) * 8) {
      if (b.readUInt32BE(at) === 0x44415441) b.writeUInt32BE(0x12345678, at);
    }
    writeFileSync(img, b);
  });

  for (const args of [['info'], ['info', '--output=json']]) {
    it(`${args.join(' ')}: same output and exit code as qemu-img`, async () => {
      const q = qemuImg([...args, img], true);
      const o = await cli([...args, img]);
      assert.equal(q.code, 0, q.stderr);
      assert.equal(o.code, 0, o.stderr);
      assert.equal(o.stdout.toString(), q.stdout);
    });
  }

  it('check exits 1 as qemu-img ("\'data-file\' is required"); read refuses, one line', async () => {
    assert.equal(qemuImg(['check', img], true).code, 1);
    for (const args of [
      ['check', img],
      ['read', img, '0', '512'],
    ]) {
      const o = await cli(args);
      assert.equal(o.code, 1);
      assert.equal(o.stderr, `qcow2-inspector: ${img}: image needs an external data file but does not name one\n`);
    }
  });
});
