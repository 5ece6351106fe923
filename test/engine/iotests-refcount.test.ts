/**
 * Ports of qemu-iotests cases on damaged refcount structures and the corrupt/dirty bits (iotests 060, 108),
 * compared with qemu-img 7.2: check exit code and JSON counts, then our `-r all`, after which qemu-img finds
 * the image clean, its header bits cleared, and its guest data equal to qemu-img's own repair.
 */
import { strict as assert } from 'node:assert';
import { copyFileSync, openSync, writeSync, closeSync, readFileSync } from 'node:fs';
import { qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { ourCheck, qemuCheck } from './check-fixtures';

const CS = 65536;

function patch(path: string, offset: number, bytes: number[]): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, Buffer.from(bytes), 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

const be64 = (v: number): number[] => [0, 0, 0, 0, (v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];
const be32 = (v: number): number[] => [(v >>> 24) & 255, (v >>> 16) & 255, (v >>> 8) & 255, v & 255];

/** Header fields: refcount table offset (48) and clusters (52); first refblock offset. */
function refLayout(path: string): { reftable: number; refblock: number } {
  const b = readFileSync(path);
  const reftable = Number(b.readBigUInt64BE(48));
  return { reftable, refblock: Number(b.readBigUInt64BE(reftable)) };
}

interface Case {
  name: string;
  damage(path: string): void;
}

const CASES: Case[] = [
  {
    name: 'iotest 108: refcount table offset and size both zero',
    damage: (p) => patch(p, 48, [...be64(0), ...be32(0)]),
  },
  {
    name: 'iotest 108: refcount table of size 0',
    damage: (p) => patch(p, 52, be32(0)),
  },
  {
    name: 'iotest 108: refcount table at offset 0',
    damage: (p) => patch(p, 48, be64(0)),
  },
  {
    name: "iotest 060: corrupt bit set and the refblock's own refcount zero (needs a rebuild)",
    damage: (p) => {
      const { refblock } = refLayout(p);
      patch(p, refblock + 2 * (refblock / CS), [0, 0]);
      patch(p, 72, be64(2));
    },
  },
  {
    name: 'iotest 060: dirty and corrupt bits set, refcount of cluster 0 zero',
    damage: (p) => {
      const { refblock } = refLayout(p);
      patch(p, refblock, [0, 0]);
      patch(p, 72, be64(3));
    },
  },
];

describe('iotests: refcount structures and corrupt bit, compared with qemu-img 7.2', function () {
  this.timeout(60_000);
  const dir = scratchDir('q2i-iotests-refcount-');
  after(() => dir.cleanup());

  CASES.forEach((c, i) => {
    it(c.name, async () => {
      const ours = dir.path(`ours-${i}.qcow2`);
      const ref = dir.path(`ref-${i}.qcow2`);
      const pristine = dir.path(`pristine-${i}.qcow2`);
      qemuImg(['create', '-q', '-f', 'qcow2', ours, '64M']);
      qemuIo(ours, ['write -P 0x5a 0 1M', 'write -P 0xa5 10M 64k']);
      copyFileSync(ours, pristine);
      c.damage(ours);
      copyFileSync(ours, ref);

      const q = qemuCheck(ref);
      const o = await ourCheck(ours);
      assert.equal(o.code, q.code, 'check exit code');
      for (const k of ['corruptions', 'leaks', 'check-errors', 'allocated-clusters', 'total-clusters']) {
        assert.equal(o.json?.[k], q.json?.[k], `check ${k}`);
      }

      const qr = qemuCheck(ref, 'all');
      const or = await ourCheck(ours, 'all');
      assert.equal(or.code, qr.code, '-r all exit code');
      const after = qemuCheck(ours);
      assert.equal(after.code, 0, `qemu-img check after our repair: ${after.stderr}`);
      assert.equal(after.json?.corruptions ?? 0, 0);
      assert.equal(after.json?.leaks ?? 0, 0);
      const info = JSON.parse(qemuImg(['info', '--output=json', ours]).stdout);
      assert.equal(info['format-specific'].data.corrupt, false, 'corrupt bit cleared');
      assert.equal(readFileSync(ours).readUInt32BE(76) & 3, 0, 'dirty and corrupt bits cleared');
      assert.equal(qemuImg(['compare', '-q', ours, ref], true).code, 0, "guest data equals qemu-img's repair");
      assert.equal(qemuImg(['compare', '-q', ours, pristine], true).code, 0, 'guest data as before the damage');
    });
  });
});
