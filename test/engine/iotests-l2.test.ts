/**
 * Ports of qemu-iotests 060's unaligned L2 entry cases, compared with qemu-img 7.2: qemu counts the
 * misaligned entry and the neighbouring cluster its range overlaps (2 corruptions), and so do we; after
 * `-r all` by each, qemu-img check finds both images in the same state.
 */
import { strict as assert } from 'node:assert';
import { closeSync, copyFileSync, openSync, readFileSync, writeSync } from 'node:fs';
import { qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { ourCheck, qemuCheck } from './check-fixtures';

/** Adds `delta` to the first L2 entry of the first L2 table (offsets from the header, as the iotest computes). */
function shiftFirstL2Entry(path: string, delta: number): void {
  const b = readFileSync(path);
  const l1 = Number(b.readBigUInt64BE(40));
  const l2 = Number(b.readBigUInt64BE(l1) & 0x00fffffffffffe00n);
  const entry = b.readBigUInt64BE(l2) + BigInt(delta);
  const out = Buffer.alloc(8);
  out.writeBigUInt64BE(entry);
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, out, 0, 8, l2);
  } finally {
    closeSync(fd);
  }
}

const CASES: { name: string; io: string[] }[] = [
  { name: 'iotest 060: unaligned L2 entry of a data cluster', io: ['write 0 128k'] },
  { name: 'iotest 060: unaligned preallocated zero cluster', io: ['write 0 128k', 'write -z 0 64k'] },
];

describe('iotests: unaligned L2 entries, compared with qemu-img 7.2', function () {
  this.timeout(60_000);
  const dir = scratchDir('q2i-iotests-l2-');
  after(() => dir.cleanup());

  CASES.forEach((c, i) => {
    it(c.name, async () => {
      const ours = dir.path(`ours-${i}.qcow2`);
      const ref = dir.path(`ref-${i}.qcow2`);
      qemuImg(['create', '-q', '-f', 'qcow2', ours, '64M']);
      qemuIo(ours, c.io);
      shiftFirstL2Entry(ours, 0x200);
      copyFileSync(ours, ref);

      const q = qemuCheck(ref);
      const o = await ourCheck(ours);
      assert.equal(o.code, q.code, 'check exit code');
      assert.equal(q.json?.corruptions, 2, 'qemu counts the overlapped neighbour too');
      for (const k of ['corruptions', 'leaks', 'check-errors', 'allocated-clusters']) assert.equal(o.json?.[k], q.json?.[k], `check ${k}`);

      const qr = qemuCheck(ref, 'all');
      const or = await ourCheck(ours, 'all');
      assert.equal(or.code, qr.code, '-r all exit code');
      const qa = qemuCheck(ref);
      const oa = qemuCheck(ours);
      assert.equal(oa.code, qa.code, 'qemu-img check after repair: exit code');
      for (const k of ['corruptions', 'leaks', 'check-errors']) assert.equal(oa.json?.[k] ?? 0, qa.json?.[k] ?? 0, `after repair: ${k}`);
    });
  });
});
