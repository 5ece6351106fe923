/**
 * Ports of iotest 080's "Invalid snapshot table" and "Hitting snapshot table size limit" cases, compared with
 * qemu-img 7.2 (info, check and `check -r all` exit codes and stdout). Where qemu-img's own repair fails, the
 * case says what ours does instead.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { qemuImg, scratchDir } from '../helpers/qemu';
import { be32, be64, both, copies, patch } from './iotests-support';

interface Case {
  name: string;
  damage(path: string): void;
  info: number;
  check: number;
  /** Exit code of `-r all` by qemu-img; ours is the same unless `ours` says otherwise. */
  repair: number;
  ours?: number;
  /** 65536 snapshots make each qemu-img open take seconds: its own "Double checking" stands for the re-check. */
  slowInQemu?: boolean;
}

const CASES: Case[] = [
  {
    name: 'iotest 080: nb_snapshots 0xffffffff',
    damage: (p) => patch(p, 60, be32(0xffffffff)),
    info: 1,
    check: 1,
    // qemu-img discards the snapshots past 65536 as we do, reads the rest from offset 0 (the header: garbage),
    // then its refcount rebuild trips its own overlap check: it marks the image corrupt and fails. Ours finishes
    // the repair and reports the two corruptions the garbage entries leave (exit 2), without the corrupt bit.
    repair: 1,
    ours: 2,
  },
  {
    name: 'iotest 080: snapshot table offset 0xffffffffffff0000 with 65535 snapshots',
    damage: (p) => (patch(p, 64, be64(0xffffffffffff0000n)), patch(p, 60, be32(0xffff))),
    info: 1,
    check: 1,
    repair: 1,
  },
  {
    name: 'iotest 080: snapshot table offset 0x1234567890abcdef with no snapshots',
    damage: (p) => (patch(p, 64, be64(0x1234567890abcdefn)), patch(p, 60, be32(0))),
    info: 1,
    check: 1,
    repair: 1,
  },
  {
    name: 'iotest 080: hitting the snapshot table size limit (65536 snapshots at 16 MiB, past the end)',
    damage: (p) => (patch(p, 64, be64(0x1000000)), patch(p, 60, be32(0x10000))),
    info: 0,
    check: 2,
    repair: 0,
    slowInQemu: true,
  },
];

describe('iotest 080: invalid snapshot tables, compared with qemu-img 7.2', function () {
  this.timeout(120_000);
  const dir = scratchDir('q2i-iotests-080t-');
  after(() => dir.cleanup());

  CASES.forEach((c, i) => {
    it(c.name, async () => {
      const src = dir.path(`src-${i}.qcow2`);
      qemuImg(['create', '-q', '-f', 'qcow2', src, '64M']);
      c.damage(src);
      // (A table past the end of the file: qemu-img lists its zero entries, we list none, as iotests-open.test.ts.)
      const info = await both(['info'], src, src, false);
      assert.equal(info.q.code, c.info, info.q.stderr);
      assert.equal(info.o.code, c.info, info.o.stderr);
      if (c.info) assert.match(info.o.stderr, /^qcow2-inspector: [^\n]+\n$/, 'one line naming the file');

      const [ref, ours] = copies(src, dir.path(`ref-${i}.qcow2`), dir.path(`ours-${i}.qcow2`));
      const chk = await both(['check'], ref, ours);
      assert.equal(chk.q.code, c.check);
      const r = await both(['check', '-r', 'all'], ref, ours, c.ours === undefined);
      assert.equal(r.q.code, c.repair, r.q.stderr.slice(-300));
      if (c.ours === undefined) {
        if (!c.slowInQemu) await both(['check'], ref, ours);
        return;
      }
      assert.equal(r.o.code, c.ours, r.o.stderr.slice(-300));
      assert.equal(readFileSync(ref).readUInt32BE(76) & 2, 2, 'qemu-img marked its copy corrupt');
      assert.equal(readFileSync(ours).readUInt32BE(76) & 2, 0, 'ours did not');
      const after = qemuImg(['check', '--output=json', ours], true);
      assert.equal(after.code, 2, 'qemu-img can check our result');
      assert.equal(JSON.parse(after.stdout)['check-errors'], 0);
    });
  });
});
