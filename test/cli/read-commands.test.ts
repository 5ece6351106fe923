/**
 * The read-side commands as users run them: output bytes, sparse output, and failures as exit 1 with
 * one line naming the file and the reason (no stack trace, nothing written to the image).
 */
import { strict as assert } from 'node:assert';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cli, cliProcess, qemuImg, scratchDir, sha256File } from '../helpers/qemu';
import { makeQcow2 } from '../helpers/images';

function assertOneLineError(r: { code: number; stderr: string }, ...mustContain: (string | RegExp)[]): void {
  assert.equal(r.code, 1, `exit ${r.code}: ${r.stderr}`);
  const lines = r.stderr.split('\n');
  assert.equal(lines.length, 2, `not one line: ${JSON.stringify(r.stderr)}`);
  assert.doesNotMatch(lines[0], /internal error| {4}at /);
  for (const m of mustContain) {
    if (typeof m === 'string') assert.ok(lines[0].includes(m), `${lines[0]} lacks ${m}`);
    else assert.match(lines[0], m);
  }
}

describe('read-side commands (read, convert, map, info)', function () {
  this.timeout(60_000);
  const tmp = scratchDir('q2i-read-cli-');
  after(() => tmp.cleanup());
  let img = '';
  let raw: Buffer;
  before(() => {
    img = makeQcow2(tmp.path('img.qcow2'), { size: '64M' }, ['write -P 0x41 0 4k', 'write -c -P 0x42 1M 64k', 'write -P 0x43 63M 1M']);
    qemuImg(['convert', '-O', 'raw', img, tmp.path('ref.raw')]);
    raw = readFileSync(tmp.path('ref.raw'));
  });

  it('read writes exactly the guest bytes to stdout (k/M suffixes accepted)', async () => {
    const r = await cli(['read', img, '1M', '65537']);
    assert.equal(r.code, 0, r.stderr);
    assert.ok(r.stdout.equals(raw.subarray(1 << 20, (1 << 20) + 65537)));
    const r2 = await cli(['read', img, String((63 << 20) - 10), '10M'.replace('10M', '20')]);
    assert.ok(r2.stdout.equals(raw.subarray((63 << 20) - 10, (63 << 20) + 10)));
  });

  it('read past the virtual size exits 1 with one line naming the image', async () => {
    const sum = sha256File(img);
    assertOneLineError(await cli(['read', img, '64M', '1']), img, /beyond the virtual size/);
    assert.equal(sha256File(img), sum);
  });

  it('read with a bad size is a usage error', async () => {
    const r = await cli(['read', img, 'ten', '1']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /invalid offset 'ten'/);
  });

  it('convert -O raw writes a sparse file of the virtual size with the guest bytes', async () => {
    const out = tmp.path('out.raw');
    const r = await cli(['convert', '-O', 'raw', img, out]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(statSync(out).size, 64 << 20);
    assert.ok(readFileSync(out).equals(raw));
    assert.ok(statSync(out).blocks * 512 < 4 << 20, `output occupies ${statSync(out).blocks * 512} bytes`);
  });

  it('convert overwrites an existing output file (truncating it)', async () => {
    const out = tmp.path('old.raw');
    writeFileSync(out, Buffer.alloc(100 << 20, 0x55));
    assert.equal((await cli(['convert', '-O', 'raw', img, out])).code, 0);
    assert.ok(readFileSync(out).equals(raw));
  });

  it('convert to another format, or without -O, is a usage error', async () => {
    const r = await cli(['convert', '-O', 'vmdk', img, tmp.path('x.vmdk')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /use raw or qcow2/);
    assert.equal((await cli(['convert', img, tmp.path('y.raw')])).code, 1);
    assert.ok(!existsSync(tmp.path('x.vmdk')));
  });

  it('convert refuses to write over its own input or a backing file', async () => {
    const base = makeQcow2(tmp.path('self-base.qcow2'), { size: '1M' }, ['write -P 1 0 4k']);
    const top = makeQcow2(tmp.path('self-top.qcow2'), { size: '1M', backing: base });
    const sums = [sha256File(base), sha256File(top)];
    assertOneLineError(await cli(['convert', '-O', 'raw', top, top]), top, /also an input/);
    assertOneLineError(await cli(['convert', '-p', '-O', 'raw', top, base]), base, /also an input/);
    assert.deepEqual([sha256File(base), sha256File(top)], sums);
  });

  it('convert to a device (/dev/null) works: only regular files are cut to size', async () => {
    const r = await cli(['convert', '-O', 'raw', img, '/dev/null']);
    assert.equal(r.code, 0, r.stderr);
  });

  it('convert into a missing folder fails naming the output file', async () => {
    const out = tmp.path('no/such/dir/out.raw');
    assertOneLineError(await cli(['convert', '-O', 'raw', img, out]), out);
  });

  for (const cmd of [['info'], ['map'], ['map', '--output=json'], ['read', '0', '1'], ['convert', '-O', 'raw']]) {
    it(`${cmd[0]} on a missing file exits 1 with one line naming it`, async () => {
      const missing = tmp.path('missing.qcow2');
      const argv = cmd[0] === 'read' ? ['read', missing, '0', '1'] : cmd[0] === 'convert' ? [...cmd, missing, tmp.path('m.raw')] : [...cmd, missing];
      assertOneLineError(await cli(argv), missing);
    });
  }

  it('info on a file that is not qcow2 says so in one line', async () => {
    const junk = tmp.path('junk.bin');
    writeFileSync(junk, Buffer.alloc(4096, 7));
    assertOneLineError(await cli(['info', junk]), junk, /not a qcow2 image/);
  });

  it('info works when the backing file is missing (as qemu-img), --backing-chain and map do not', async () => {
    const base = makeQcow2(tmp.path('gone-base.qcow2'), { size: '1M' });
    const top = makeQcow2(tmp.path('orphan.qcow2'), { size: '1M', backing: base });
    require('node:fs').unlinkSync(base);
    const r = await cli(['info', '--output=json', top]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(JSON.parse(r.stdout.toString())['backing-filename'], base);
    assertOneLineError(await cli(['info', '--backing-chain', top]), top, /missing/);
    assertOneLineError(await cli(['map', top]), top, /missing/);
  });

  it('the probed backing format is reported as the documented extra field', async () => {
    const base = makeQcow2(tmp.path('pb.qcow2'), { size: '1M' });
    const top = makeQcow2(tmp.path('pt.qcow2'), { size: '1M', backing: base });
    // Turn the backing-format header extension into an unknown one: qemu then probes the format.
    const b = readFileSync(top);
    const at = b.indexOf(Buffer.from([0xe2, 0x79, 0x2a, 0xca]));
    b.writeUInt32BE(0x0e0e0e0e, at);
    writeFileSync(top, b);
    const ours = JSON.parse((await cli(['info', '--output=json', top])).stdout.toString());
    const theirs = JSON.parse(qemuImg(['info', '--output=json', top]).stdout);
    assert.equal(ours['backing-filename-format-probed'], true);
    delete ours['backing-filename-format-probed'];
    assert.deepEqual(ours, theirs);
    assert.match((await cli(['info', top])).stdout.toString(), /backing file format: qcow2 \(probed/);
  });

  it('dist/cli.js runs the read commands as a separate process', function () {
    assert.ok(existsSync(require('node:path').join(__dirname, '../../dist/cli.js')), 'dist/cli.js is missing: run npm run build');
    const r = cliProcess(['read', img, '0', '4096']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'A'.repeat(4096));
    const m = cliProcess(['map', '--output=json', img]);
    assert.deepEqual(JSON.parse(m.stdout), JSON.parse(qemuImg(['map', '--output=json', img]).stdout));
    const bad = cliProcess(['read', img, '0', '1G']);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr.split('\n').length, 2);
  });
});
