/**
 * The `fs` commands as users run them, against debugfs and qemu-img: fs list (human/JSON), fs ls -l, fs cat
 * (bytes equal to debugfs dump, through a compressed image and a backing chain), fs stat with extents equal to
 * debugfs blocks and host offsets whose bytes in the qcow2 file are the file's, fs owner; failures are exit 1 with
 * one line naming the image and the path; a 10,000-entry directory lists fast.
 */
import { strict as assert } from 'node:assert';
import { closeSync, mkdirSync, openSync, readSync } from 'node:fs';
import { openImage } from '../../src/qcow2/index';
import { detectDisk, diskDevice, findVolume, openFs } from '../../src/guestfs/index';
import { debugfs, debugfsBlocks, debugfsDump, debugfsLs, makeDisk, makeExt, makeTree, toQcow2, type PlacedPart } from '../helpers/guestfs-fixtures';
import { cli, scratchDir } from '../helpers/qemu';

function assertOneLineError(r: { code: number; stderr: string; stdout: Buffer }, ...mustContain: string[]): void {
  assert.equal(r.code, 1, `exit ${r.code}: ${r.stderr}`);
  const lines = r.stderr.split('\n');
  assert.equal(lines.length, 2, `not one line: ${JSON.stringify(r.stderr)}`);
  assert.doesNotMatch(lines[0], /internal error| {4}at /);
  for (const m of mustContain) assert.ok(lines[0].includes(m), `${lines[0]} lacks ${m}`);
}

describe('CLI: fs list / ls / cat / stat / owner', function () {
  this.timeout(180_000);
  const tmp = scratchDir('q2i-fs-cli-');
  after(() => tmp.cleanup());
  let e4 = '';
  let e2 = '';
  let parts: PlacedPart[] = [];
  const q: Record<'plain' | 'compressed' | 'backing', string> = { plain: '', compressed: '', backing: '' };

  before(() => {
    const src = tmp.path('tree');
    mkdirSync(src);
    makeTree(src, { seed: 99, manyEntries: 10_000, bigBytes: 5 * 1024 * 1024 + 7 });
    e4 = makeExt(tmp.path('e4.img'), src, 'ext4', 64, ['-b', '4096', '-L', 'sys']);
    e2 = makeExt(tmp.path('e2.img'), src, 'ext2', 48, ['-b', '1024']);
    const raw = tmp.path('disk.raw');
    parts = makeDisk(raw, 'gpt', [e4, e2]);
    for (const v of ['plain', 'compressed', 'backing'] as const) q[v] = toQcow2(raw, tmp.path(`${v}.qcow2`), v);
  });

  it('fs list shows each partition with type, label, UUID and state (human and JSON)', async () => {
    const r = await cli(['fs', 'list', q.plain]);
    assert.equal(r.code, 0, r.stderr);
    const text = r.stdout.toString();
    assert.match(text, /^Partition table: gpt\nID +START +SIZE +TYPE +LABEL +UUID +STATE\n/);
    const uuid = /Filesystem UUID:\s+(\S+)/.exec(debugfs(e4, 'stats'))![1];
    assert.match(text, new RegExp(`\\n1 +${parts[0].start} +${parts[0].size} +ext4 +sys +${uuid} +clean\\n`));
    assert.match(text, /\n2 +\d+ +\d+ +ext2 +\S+ +clean\n$/);
    const j = JSON.parse((await cli(['fs', 'list', '--output=json', q.plain])).stdout.toString());
    assert.equal(j['partition-table'], 'gpt');
    assert.deepEqual(
      j.volumes.map((v: Record<string, unknown>) => [v.id, v.kind, v.start, v.type, v.label, v['block-size'], v.clean]),
      [
        ['1', 'partition', parts[0].start, 'ext4', 'sys', 4096, true],
        ['2', 'partition', parts[1].start, 'ext2', '', 1024, true],
      ],
    );
  });

  it('fs ls -l matches debugfs ls -l; JSON carries the same', async () => {
    for (const [n, img] of [
      [1, e4],
      [2, e2],
    ] as const) {
      const ref = debugfsLs(img, '/data');
      const r = await cli(['fs', 'ls', '-l', q.backing, `${n}:/data`]);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.toString().trimEnd().split('\n');
      assert.equal(lines.length, ref.length);
      for (const e of ref) {
        const line = lines.find((l) => (l.endsWith(` ${e.name}`) && !l.includes(' -> ')) || l.includes(` ${e.name} -> `))!;
        assert.ok(line, e.name);
        const [mode, , uid, gid, size] = line.trim().split(/\s+/);
        assert.equal(mode[0], { 0o100000: '-', 0o40000: 'd', 0o120000: 'l' }[e.mode & 0o170000]);
        assert.deepEqual([Number(uid), Number(gid), Number(size)], [e.uid, e.gid, e.size]);
      }
      const j = JSON.parse((await cli(['fs', 'ls', '-l', '--output=json', q.plain, `${n}:/data`])).stdout.toString());
      assert.deepEqual(
        j.map((e: { name: string; id: number; size: number; mode: number }) => [e.name, e.id, e.size, e.mode]).sort(),
        ref.map((e) => [e.name, e.ino, e.size, e.mode]).sort(),
      );
    }
  });

  it('fs cat writes exactly what debugfs dump writes, through compressed and backing-chain images', async () => {
    for (const img of [q.compressed, q.backing]) {
      for (const [n, fsImg] of [
        [1, e4],
        [2, e2],
      ] as const) {
        for (const path of ['/data/big.bin', '/etc/hosts', '/etc/empty', '/name with spaces é']) {
          const r = await cli(['fs', 'cat', img, `${n}:${path}`]);
          assert.equal(r.code, 0, r.stderr);
          assert.ok(r.stdout.equals(debugfsDump(fsImg, path, tmp.path('dump'))), `${img} ${n}:${path}`);
        }
      }
    }
    const link = await cli(['fs', 'cat', q.plain, '1:/fast-link']);
    assert.equal(link.stdout.toString(), '127.0.0.1 localhost\n::1 localhost ip6-localhost\n');
  });

  it('fs stat --output=json: extents equal debugfs blocks, and each host offset holds the file bytes', async () => {
    const big = debugfsDump(e2, '/data/big.bin', tmp.path('big'));
    const r = await cli(['fs', 'stat', '--output=json', q.plain, '2:/data/big.bin']);
    assert.equal(r.code, 0, r.stderr);
    const st = JSON.parse(r.stdout.toString());
    assert.deepEqual([st.volume, st['fs-type'], st.type, st.size, st.mode], ['2', 'ext2', 'file', big.length, 0o100644]);
    const blocks: number[] = [];
    for (const e of st.extents) for (let b = 0; b < Math.ceil(e.length / 1024); b++) blocks.push((e['guest-offset'] - parts[1].start) / 1024 + b);
    assert.deepEqual(blocks, debugfsBlocks(e2, '/data/big.bin'));
    const fd = openSync(q.plain, 'r');
    try {
      let checked = 0;
      for (const e of st.extents) {
        for (const h of e.host) {
          assert.equal(h.file, q.plain);
          const buf = Buffer.alloc(h.length);
          readSync(fd, buf, 0, h.length, h.offset);
          const logical = e.logical + (h['guest-offset'] - e['guest-offset']);
          assert.ok(buf.equals(big.subarray(logical, logical + h.length)));
          checked += h.length;
        }
      }
      assert.equal(checked, big.length);
    } finally {
      closeSync(fd);
    }
    const human = (await cli(['fs', 'stat', q.backing, '1:/etc/hosts'])).stdout.toString();
    assert.match(human, /^File: \/etc\/hosts\nVolume: partition 1 \(ext4\)\nType: file {2}Size: 48 {2}Id: \d+ {2}Links: 1\nMode: -rw-r--r-- \(0644\)/);
    assert.match(human, /Extents: 1\n.*\n0x0 +0x[0-9a-f]+ +0x30 +0x[0-9a-f]+ in .*(backing\.qcow2|base\.qcow2)\n$/);
  });

  it('fs owner names the file and offset, metadata, and free space', async () => {
    const st = JSON.parse((await cli(['fs', 'stat', '--output=json', q.plain, '1:/data/big.bin'])).stdout.toString());
    const at = st.extents[0]['guest-offset'] + 4097;
    const r = await cli(['fs', 'owner', q.plain, String(at)]);
    assert.equal(r.stdout.toString(), `${at}: partition 1 (ext4): file /data/big.bin, offset 0x1001\n`);
    const sb = await cli(['fs', 'owner', '--output=json', q.plain, String(parts[0].start + 1024)]);
    assert.deepEqual(JSON.parse(sb.stdout.toString()).owner, { kind: 'metadata', what: 'superblock and group descriptors' });
    const free = Number(/Free blocks found: (\d+)/.exec(debugfs(e4, 'ffb 1 12000'))![1]);
    const f = JSON.parse((await cli(['fs', 'owner', '--output=json', q.plain, String(parts[0].start + free * 4096)])).stdout.toString());
    assert.deepEqual(f.owner, { kind: 'free' });
    assert.match((await cli(['fs', 'owner', q.plain, '100'])).stdout.toString(), /^100: no volume: outside any readable file system\n$/);
  });

  it('failures: exit 1, one line naming the image and the path', async () => {
    assertOneLineError(await cli(['fs', 'cat', q.plain, '1:/nope/x']), q.plain, 'partition 1', '/nope/x', 'no such file or directory');
    assertOneLineError(await cli(['fs', 'ls', q.plain, '9:/']), q.plain, "no partition or logical volume '9'");
    assertOneLineError(await cli(['fs', 'ls', q.plain, '/etc']), q.plain, 'name one as N:/path');
    assertOneLineError(await cli(['fs', 'cat', q.plain, '1:/etc']), q.plain, '/etc', 'is a directory');
    assertOneLineError(await cli(['fs', 'ls', q.plain, '1:/etc/hosts']), q.plain, '/etc/hosts', 'not a directory');
    assertOneLineError(await cli(['fs', 'stat', tmp.path('missing.qcow2'), '1:/']), 'missing.qcow2');
    const usage = await cli(['fs', 'frobnicate']);
    assert.equal(usage.code, 1);
    assert.match(usage.stderr, /fs: expected one of list, ls, cat, stat, owner/);
  });

  it('a 10,000-entry directory lists with types in well under 300 ms', async () => {
    const dev = await openImage(q.plain, { readOnly: true });
    try {
      const vol = findVolume(await detectDisk(diskDevice(dev)), '1');
      const fs = await openFs(vol.device, vol.content.type);
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const t = performance.now();
        const entries = await fs.list('/many');
        times.push(performance.now() - t);
        assert.equal(entries.length, 10_000);
        assert.ok(entries.every((e) => e.type === 'file'));
      }
      assert.ok(Math.min(...times) < 300, `${times.map((t) => t.toFixed(1)).join(', ')} ms`);
    } finally {
      await dev.close();
    }
    const r = await cli(['fs', 'ls', q.compressed, '1:/many']);
    assert.equal(r.stdout.toString().split('\n').length, 10_001);
  });
});
