/** CLI `create` and `write`: qemu-img create / qemu-io write as the oracles. */
import { strict as assert } from 'node:assert';
import { copyFileSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { cli, qemuImg, qemuIo, scratchDir, sha256File } from '../helpers/qemu';
import { seededRandom } from '../../src/qcow2/io/fault';

function randomBytes(n: number, seed: number): Uint8Array {
  const r = seededRandom(seed);
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (r() * 256) | 0;
  return b;
}

function info(path: string): Record<string, any> {
  return JSON.parse(qemuImg(['info', '--output=json', path]).stdout);
}

describe('cli create', function () {
  this.timeout(60_000);
  const tmp = scratchDir('q2i-cli-create-');
  const cwd = process.cwd();
  // qemu-img puts a relative data_file in the working folder: work in the scratch folder.
  before(() => process.chdir(tmp.dir));
  after(() => {
    process.chdir(cwd);
    tmp.cleanup();
  });

  const same: Array<[string, string[]]> = [
    ['default', ['1G']],
    ['suffix k', ['1536k']],
    ['suffix T', ['4T']],
    ['every -o option', ['-o', 'cluster_size=32k,refcount_bits=8,compat=1.1,extended_l2=on,compression_type=zstd,lazy_refcounts=on', '3G']],
    ['compat=0.10', ['-o', 'compat=0.10', '100M']],
    ['compat=v2 alias', ['-o', 'compat=v2', '100M']],
    ['512 B clusters', ['-o', 'cluster_size=512', '10M']],
    ['2 MiB clusters', ['-o', 'cluster_size=2M', '10G']],
    ['refcount_bits=1', ['-o', 'refcount_bits=1', '1G']],
    ['refcount_bits=64', ['-o', 'refcount_bits=64', '1G']],
    ['preallocation=metadata', ['-o', 'preallocation=metadata,lazy_refcounts=on', '30M']],
    ['preallocation=off', ['-o', 'preallocation=off', '30M']],
    ['data file', ['-o', 'data_file=dfile.raw,data_file_raw=on', '4M']],
  ];
  for (const [name, rest] of same) {
    it(`${name}: same bytes as qemu-img create`, async () => {
      const ours = tmp.path('ours.qcow2');
      const theirs = tmp.path('theirs.qcow2');
      const sizeIdx = rest.length - 1;
      const r = await cli(['create', '-f', 'qcow2', ...rest.slice(0, sizeIdx), ours, rest[sizeIdx]]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout.toString(), /^Formatting '.*ours\.qcow2', fmt=qcow2 cluster_size=\d+ /);
      const q = qemuImg(['create', '-f', 'qcow2', ...rest.slice(0, sizeIdx).map((a) => a.replace('compat=v2', 'compat=0.10')), theirs, rest[sizeIdx]]);
      assert.equal(r.stdout.toString().replace('ours', 'theirs').replace('compat=0.10', 'compat=0.10'), q.stdout.replace('compat=v2', 'compat=0.10'));
      assert.ok(readFileSync(ours).equals(readFileSync(theirs)));
      assert.equal(qemuImg(['check', ours], true).code, 0);
    });
  }

  it('takes the size from the backing file when SIZE is left out (-b/-F), and records both', async () => {
    const base = tmp.path('base.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', base, '123M']);
    const top = tmp.path('top.qcow2');
    const r = await cli(['create', '-q', '-b', base, '-F', 'qcow2', top]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.length, 0, '-q prints nothing');
    const i = info(top);
    assert.equal(i['virtual-size'], 123 * 1024 * 1024);
    assert.equal(i['backing-filename'], base);
    assert.equal(i['backing-filename-format'], 'qcow2');
    assert.equal(qemuImg(['check', top], true).code, 0);
  });

  it('accepts backing_file/backing_fmt in -o and a relative backing name', async () => {
    writeFileSync(tmp.path('rel.raw'), new Uint8Array(1 << 20));
    const r = await cli(['create', '-q', '-o', 'backing_file=rel.raw,backing_fmt=raw', tmp.path('rel.qcow2')]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(info(tmp.path('rel.qcow2'))['backing-filename'], 'rel.raw');
    assert.equal(info(tmp.path('rel.qcow2'))['virtual-size'], 1 << 20);
  });

  const errors: Array<[string, string[], RegExp]> = [
    ['no size and no backing', ['x.qcow2'], /expected IMAGE SIZE/],
    ['bad size', ['x.qcow2', '1X'], /invalid image size '1X'/],
    ['unknown -o parameter', ['-o', 'foo=1', 'x.qcow2', '1M'], /invalid parameter 'foo'/],
    ['bad cluster size', ['-o', 'cluster_size=3000', 'x.qcow2', '1M'], /cluster size must be a power of two/],
    ['bad refcount width', ['-o', 'refcount_bits=3', 'x.qcow2', '1M'], /refcount width/],
    ['bad on/off', ['-o', 'lazy_refcounts=maybe', 'x.qcow2', '1M'], /must be on or off/],
    ['bad compat', ['-o', 'compat=2.0', 'x.qcow2', '1M'], /invalid compat/],
    ['bad compression type', ['-o', 'compression_type=lzo', 'x.qcow2', '1M'], /invalid compression_type/],
    ['v2 with lazy refcounts', ['-o', 'compat=0.10,lazy_refcounts=on', 'x.qcow2', '1M'], /need compatibility level 1.1/],
    ['backing without format', ['-b', 'base.qcow2', 'x.qcow2', '1M'], /without backing format/],
    ['missing backing file', ['-b', 'nope.qcow2', '-F', 'qcow2', 'x.qcow2'], /cannot open backing file/],
    ['other formats', ['-f', 'vmdk', 'x.qcow2', '1M'], /only qcow2 images can be created/],
    ['preallocation=full', ['-o', 'preallocation=full', 'x.qcow2', '1M'], /unsupported preallocation 'full'/],
  ];
  for (const [name, args, re] of errors) {
    it(`refuses: ${name}`, async () => {
      const full = args.map((a) => (a.endsWith('.qcow2') ? tmp.path(a) : a));
      const r = await cli(['create', ...full]);
      assert.equal(r.code, 1);
      assert.match(r.stderr, re);
      assert.ok(!/\n\s+at /.test(r.stderr), 'no stack trace');
      assert.equal(existsSync(tmp.path('x.qcow2')), false);
    });
  }
});

describe('cli write', function () {
  this.timeout(60_000);
  const tmp = scratchDir('q2i-cli-write-');
  after(() => tmp.cleanup());

  it('refuses a write past the end of the disk before touching the image', async () => {
    const img = tmp.path('end.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', img, '1M']);
    const before = sha256File(img);
    writeFileSync(tmp.path('two.bin'), new Uint8Array(2));
    const r = await cli(['write', img, String((1 << 20) - 1), tmp.path('two.bin')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /would pass the end of the disk/);
    assert.equal(sha256File(img), before);
    const r2 = await cli(['write', img, String(1 << 20)], new Uint8Array(1));
    assert.equal(r2.code, 1);
    assert.equal(sha256File(img), before);
  });

  it('refuses a missing input file, a bad offset and a missing image with one line', async () => {
    const img = tmp.path('e.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', img, '1M']);
    for (const args of [
      ['write', img, '0', tmp.path('nope.bin')],
      ['write', img, 'x12'],
      ['write', tmp.path('missing.qcow2'), '0'],
      ['write', img],
    ]) {
      const r = await cli(args, new Uint8Array(4));
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stderr.trim().split('\n')[0].length > 0, true);
      assert.ok(!/\n\s+at /.test(r.stderr));
    }
  });

  it('writes FILE and stdin at unaligned offsets; qemu-io reads the same bytes; check is clean', async () => {
    const img = tmp.path('w.qcow2');
    const base = tmp.path('wbase.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', base, '8M']);
    qemuIo(base, ['write -q -P 0x5a 0 8M']);
    const baseHash = sha256File(base);
    assert.equal((await cli(['create', '-q', '-o', 'cluster_size=4k', '-b', base, '-F', 'qcow2', img])).code, 0);
    const a = randomBytes(10_000, 1);
    writeFileSync(tmp.path('a.bin'), a);
    const r1 = await cli(['write', img, '12345', tmp.path('a.bin')]);
    assert.equal(r1.code, 0, r1.stderr);
    assert.equal(r1.stdout.toString(), 'wrote 10000/10000 bytes at offset 12345\n');
    const b = randomBytes(70_000, 2);
    const r2 = await cli(['write', '-q', img, '1M'], b);
    assert.equal(r2.code, 0, r2.stderr);
    assert.equal(r2.stdout.length, 0);
    // Reference: the same writes through qemu-io into a copy of the original.
    const ref = tmp.path('ref.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', '-b', base, '-F', 'qcow2', ref]);
    writeFileSync(tmp.path('b.bin'), b);
    qemuIo(ref, [`write -q -s ${tmp.path('a.bin')} 12345 10000`, `write -q -s ${tmp.path('b.bin')} 1048576 70000`]);
    assert.equal(qemuImg(['compare', img, ref], true).code, 0);
    assert.equal(qemuImg(['check', img], true).code, 0);
    assert.equal(sha256File(base), baseHash, 'backing file untouched');
  });

  it('the built CLI writes as a separate process (flushed and synced at exit)', async () => {
    const { cliProcess } = await import('../helpers/qemu');
    assert.ok(existsSync(`${__dirname}/../../dist/cli.js`), 'dist/cli.js is missing: run npm run build');
    const img = tmp.path('p.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', img, '4M']);
    const data = randomBytes(5000, 3);
    const r = cliProcess(['write', '-q', img, '511'], data);
    assert.equal(r.code, 0, r.stderr);
    const out = qemuIo(img, ['read -v 511 16']).stdout;
    const hex = Array.from(data.subarray(0, 16), (x) => x.toString(16).padStart(2, '0')).join(' ');
    assert.ok(out.replace(/\s+/g, ' ').includes(hex.slice(0, 23)), out);
    assert.equal(qemuImg(['check', img], true).code, 0);
  });

  it('refuses images the engine must not write (corrupt bit, a bitmap QEMU cannot open), leaving them untouched; an enabled bitmap is marked', async () => {
    const corrupt = tmp.path('corrupt.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', corrupt, '1M']);
    const bytes = readFileSync(corrupt);
    bytes[79] |= 2; // incompatible feature bit 1: corrupt
    writeFileSync(corrupt, bytes);
    const bitmaps = tmp.path('bitmaps.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', bitmaps, '1M']);
    qemuImg(['bitmap', '--add', bitmaps, 'b0']);
    const hostile = tmp.path('hostile-bitmap.qcow2');
    copyFileSync(bitmaps, hostile);
    const h = readFileSync(hostile);
    let at = h.readUInt32BE(100);
    while (h.readUInt32BE(at) !== 0x23852875) at += 8 + Math.ceil(h.readUInt32BE(at + 4) / 8) * 8;
    h.writeUInt32BE(0xffffffff, Number(h.readBigUInt64BE(at + 8 + 16)) + 8); // the table size
    writeFileSync(hostile, h);
    assert.throws(() => qemuIo(hostile, ['write 0 512']), /doesn't satisfy the constraints/); // qemu-io cannot open it either
    for (const [img, re] of [
      [corrupt, /corrupt/i],
      [hostile, /bitmap 'b0' does not satisfy QEMU's constraints \(table of 4294967295 entries/],
    ] as const) {
      const before = sha256File(img);
      const r = await cli(['write', img, '0'], new Uint8Array(512).fill(1));
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, re);
      assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
      assert.equal(sha256File(img), before, `${img} changed`);
    }
    const r = await cli(['write', '-q', bitmaps, '0'], new Uint8Array(512).fill(1));
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse((await cli(['bitmap', '--dump', '--output=json', bitmaps, 'b0'])).stdout.toString()), [{ start: 0, length: 65536 }]);
  });

  it('streams stdin larger than its 64 MiB buffer; input running past the end stops with one line and a consistent image', async () => {
    const img = tmp.path('stream.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', img, '72M']);
    const input = new Uint8Array(70 * 1024 * 1024);
    for (let i = 0; i < input.length; i += 4096) input[i] = (i / 4096) & 0xff;
    const ok = await cli(['write', '-q', img, '1M'], input);
    assert.equal(ok.code, 0, ok.stderr);
    const raw = tmp.path('stream.raw');
    qemuImg(['convert', '-O', 'raw', img, raw]);
    assert.ok(
      readFileSync(raw)
        .subarray(1 << 20, (1 << 20) + input.length)
        .equals(Buffer.from(input)),
    );
    assert.equal(qemuImg(['check', img], true).code, 0);

    const bad = await cli(['write', img, '3M'], input);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /input runs past the end of the disk .*bytes at offset 3145728 were written/);
    assert.equal(bad.stderr.trim().split('\n').length, 1);
    assert.equal(qemuImg(['check', img], true).code, 0, 'flushed and consistent after the partial write');
  });
});
