/**
 * find --file [N:]/path: a pattern in one guest file (ext4 in a GPT disk, the data spread over a two-layer chain).
 * Hits match a Node scan of the file as debugfs dumps it; each hit's guest offset holds the pattern in the raw disk
 * qemu-img converts, and its layer file holds the pattern's first bytes at the host offset given.
 */
import { strict as assert } from 'node:assert';
import { mkdirSync, openSync, readFileSync, readSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { debugfsDump, makeDisk, makeExt, toQcow2 } from '../helpers/guestfs-fixtures';
import { cli, qemuImg, scratchDir } from '../helpers/qemu';

const NEEDLE = 'NEEDLE-IN-A-GUEST-FILE';

describe('find --file (a pattern in one guest file)', function () {
  this.timeout(180_000);
  const s = scratchDir('q2i-findfile-');
  after(() => s.cleanup());
  const p = s.path;
  let image: string;
  let fileBytes: Buffer;
  let raw: Buffer;

  before(() => {
    const tree = p('tree');
    mkdirSync(join(tree, 'var/log'), { recursive: true });
    const log = Buffer.alloc(3 * 1024 * 1024);
    for (let i = 0; i < log.length; i++) log[i] = 0x61 + ((i * 7919) % 26);
    // One at the start, one across a 64 KiB boundary, one across a 4 KiB block, one at the very end.
    for (const at of [0, 65536 - 7, 2 * 1024 * 1024 + 4096 - 3, log.length - NEEDLE.length]) log.write(NEEDLE, at, 'latin1');
    writeFileSync(join(tree, 'var/log/big.log'), log);
    writeFileSync(join(tree, 'other.txt'), `not here: ${NEEDLE}\n`);
    const fsImg = makeExt(p('fs.ext4'), tree, 'ext4', 16);
    makeDisk(p('disk.raw'), 'gpt', [fsImg]);
    image = toQcow2(p('disk.raw'), p('disk.qcow2'), 'backing');
    fileBytes = debugfsDump(fsImg, '/var/log/big.log', p('big.dump'));
    qemuImg(['convert', '-O', 'raw', image, p('flat.raw')]);
    raw = readFileSync(p('flat.raw'));
  });

  it('finds every occurrence in the file, and only there, with the disk and host place of each', async () => {
    const r = await cli(['find', '--output=json', '--file', '1:/var/log/big.log', image, NEEDLE]);
    assert.equal(r.stderr, '');
    assert.equal(r.code, 0);
    const hits = JSON.parse(r.stdout.toString()) as Array<{ 'file-offset': number; offset: number | null; layer: number; 'host-offset': number | null }>;
    const want: number[] = [];
    for (let at = fileBytes.indexOf(NEEDLE); at >= 0; at = fileBytes.indexOf(NEEDLE, at + 1)) want.push(at);
    assert.deepEqual(
      hits.map((h) => h['file-offset']),
      want,
    );
    assert.equal(want.length, 4);
    const layers = new Set<number>();
    for (const h of hits) {
      assert.ok(h.offset !== null);
      assert.equal(raw.subarray(h.offset, h.offset + NEEDLE.length).toString('latin1'), NEEDLE, `disk bytes at ${h.offset}`);
      assert.ok(h['host-offset'] !== null);
      layers.add(h.layer);
      const file = h.layer === 0 ? image : `${image}.base.qcow2`;
      const fd = openSync(file, 'r');
      const got = Buffer.alloc(1);
      readSync(fd, got, 0, 1, h['host-offset']);
      closeSync(fd);
      assert.equal(got.toString('latin1'), NEEDLE[0], `first byte in layer ${h.layer} at host ${h['host-offset']}`);
    }
    assert.ok(layers.size >= 1);
  });

  it('--from/--to are file offsets; the human form names file, disk, layer and host places', async () => {
    const r = await cli(['find', '--file', '1:/var/log/big.log', '--from', '1', '--to', String(2 * 1024 * 1024), image, NEEDLE]);
    assert.equal(r.code, 0);
    const lines = r.stdout.toString().trimEnd().split('\n');
    assert.equal(lines.length, 1);
    assert.match(lines[0], new RegExp(`^file 0x${(65536 - 7).toString(16)}\\s+disk 0x[0-9a-f]+\\s+layer \\d\\s+host 0x[0-9a-f]+$`));
  });

  it('nothing found exits 2; a directory, a missing file and --partition with --file exit 1 with one line', async () => {
    assert.equal((await cli(['find', '--file', '1:/other.txt', image, 'absent-text'])).code, 2);
    for (const args of [
      ['--file', '1:/var/log', image, NEEDLE],
      ['--file', '1:/nope', image, NEEDLE],
      ['--file', '1:/other.txt', '--partition', '1', image, NEEDLE],
    ]) {
      const r = await cli(['find', ...args]);
      assert.equal(r.code, 1, args.join(' '));
      assert.equal(r.stderr.trim().split('\n').length <= 2, true);
      assert.match(r.stderr, /^qcow2-inspector: /);
    }
  });
});
