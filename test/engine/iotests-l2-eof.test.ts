/**
 * An L2 table lying wholly or partly past the end of the file (the cases of issue #19; built like the iotests'
 * byte patches), compared with qemu-img 7.2: qemu reads the missing part of the table as zeros (so the
 * clusters it would map read as zeros), info opens the image, check counts a corruption plus the leaked old
 * table and data, and `-r all` clears the COPIED flag (or rebuilds the refcounts) as qemu-img does. Writes stay
 * refused with the file unchanged.
 */
import { strict as assert } from 'node:assert';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { cli, qemuImg, qemuIo, scratchDir, sha256File } from '../helpers/qemu';
import { be64, both, copies, patch, u64At } from './iotests-support';

const L2_MASK = 0x00fffffffffffe00n;

interface Case {
  name: string;
  /** Points L1 entry 0 somewhere bad; returns the new L2 offset. */
  damage(path: string): void;
}

const CASES: Case[] = [
  {
    name: 'L2 table offset 256 MiB past the end of the file (issue #19 case)',
    damage: (p) => patch(p, u64At(p, 40), be64((1n << 63n) | 0x10000000n)),
  },
  {
    name: 'L2 table starting inside the file and running past its end (issue #19 case)',
    damage: (p) => {
      // A copy of the first 4 KiB of the real L2 table at the (cluster-aligned) end of the file: 512 entries.
      const l1 = u64At(p, 40);
      const l2 = Number(readFileSync(p).readBigUInt64BE(l1) & L2_MASK);
      const end = statSync(p).size;
      patch(p, end, readFileSync(p).subarray(l2, l2 + 4096));
      patch(p, l1, be64((1n << 63n) | BigInt(end)));
    },
  },
];

describe('iotests: L2 table past the end of the file, compared with qemu-img 7.2', function () {
  this.timeout(60_000);
  const dir = scratchDir('q2i-iotests-l2eof-');
  after(() => dir.cleanup());

  CASES.forEach((c, i) => {
    it(c.name, async () => {
      const src = dir.path(`src-${i}.qcow2`);
      qemuImg(['create', '-q', '-f', 'qcow2', src, '64M']);
      // Entry 0 stays inside the 4 KiB copy, entry 512 (32 MiB) does not.
      qemuIo(src, ['write -P 0x11 0 64k', 'write -P 0x22 32M 64k']);
      c.damage(src);

      await both(['info'], src, src);
      await both(['info', '--output=json'], src, src);
      await both(['map', '--output=json'], src, src);
      const qraw = dir.path(`q-${i}.raw`);
      const oraw = dir.path(`o-${i}.raw`);
      qemuImg(['convert', '-O', 'raw', src, qraw]);
      const conv = await cli(['convert', '-O', 'raw', src, oraw]);
      assert.equal(conv.code, 0, conv.stderr);
      assert.ok(readFileSync(qraw).equals(readFileSync(oraw)), "convert bytes equal qemu-img's");
      // qemu-io reads the lost cluster as zeros (no read error).
      qemuIo(src, ['read -P 0 32M 64k'], ['-r']);
      const r = await cli(['read', src, '32M', '64k']);
      assert.equal(r.code, 0, r.stderr);
      assert.ok(r.stdout.equals(Buffer.alloc(65536)), 'our read gives zeros too');

      const before = sha256File(src);
      const data = dir.path(`p-${i}.bin`);
      writeFileSync(data, Buffer.alloc(512, 7));
      const w = await cli(['write', src, '0', data]);
      assert.equal(w.code, 1);
      assert.match(w.stderr, /^qcow2-inspector: .*: image is damaged \(L2 table at 0x[0-9a-f]+ lies beyond the end of the file/);
      assert.equal(w.stderr.trim().split('\n').length, 1, 'one-line error');
      assert.equal(sha256File(src), before, 'file unchanged');

      const [ref, ours] = copies(src, dir.path(`ref-${i}.qcow2`), dir.path(`ours-${i}.qcow2`));
      const chk = await both(['check'], ref, ours);
      assert.equal(chk.o.stderr, chk.q.stderr, 'check: the same detail lines, in the same order');
      await both(['check', '--output=json'], ref, ours);
      await both(['check', '-r', 'all'], ref, ours);
      await both(['check', '--output=json'], ref, ours);
      // Our repaired file passes qemu-img's own check exactly as qemu's repaired file does.
      const qa = qemuImg(['check', '--output=json', ref], true);
      const oa = qemuImg(['check', '--output=json', ours], true);
      assert.equal(oa.code, qa.code);
      assert.equal(oa.stdout.split(ours).join('IMG'), qa.stdout.split(ref).join('IMG'));
      assert.equal(qemuImg(['compare', '-q', ours, ref], true).code, 0, "guest data equals qemu-img's repair");
    });
  });
});
