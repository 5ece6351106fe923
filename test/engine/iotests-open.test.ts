/**
 * Ports of qemu-iotests cases where qemu-img 7.2 opens a damaged image (iotest 080: the snapshot table):
 * the active disk stays readable (info, convert bytes equal qemu-img's), check reports the damage with
 * qemu-img's counts and exit code, and writes are refused with the file unchanged until it is repaired.
 */
import { strict as assert } from 'node:assert';
import { closeSync, copyFileSync, openSync, readFileSync, writeFileSync, writeSync } from 'node:fs';
import { cli, qemuImg, qemuIo, scratchDir, sha256File } from '../helpers/qemu';
import { ourCheck, qemuCheck } from './check-fixtures';

function patch(path: string, offset: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}
const be64 = (v: bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(v);
  return b;
};

const CASES: { name: string; damage(path: string): void }[] = [
  { name: 'iotest 080: snapshot table offset past the end of the file', damage: (p) => patch(p, 64, be64(1n << 30n)) },
  { name: 'iotest 080: snapshot table offset 1 TiB past the end of the file', damage: (p) => patch(p, 64, be64(1n << 40n)) },
];

describe('iotests: damaged snapshot tables open as in qemu-img 7.2', function () {
  this.timeout(60_000);
  const dir = scratchDir('q2i-iotests-open-');
  after(() => dir.cleanup());

  CASES.forEach((c, i) => {
    it(c.name, async () => {
      const img = dir.path(`img-${i}.qcow2`);
      qemuImg(['create', '-q', '-f', 'qcow2', img, '64M']);
      qemuIo(img, ['write -P 0x11 0 64k']);
      qemuImg(['snapshot', '-c', 's1', img]);
      qemuIo(img, ['write -P 0x22 1M 64k']);
      c.damage(img);

      assert.equal(qemuImg(['info', img], true).code, 0, 'qemu-img info opens it');
      assert.equal((await cli(['info', img])).code, 0, 'our info opens it');
      const qraw = dir.path(`q-${i}.raw`);
      const oraw = dir.path(`o-${i}.raw`);
      qemuImg(['convert', '-O', 'raw', img, qraw]);
      const conv = await cli(['convert', '-O', 'raw', img, oraw]);
      assert.equal(conv.code, 0, conv.stderr);
      assert.ok(readFileSync(qraw).equals(readFileSync(oraw)), "convert bytes equal qemu-img's");

      const q = qemuCheck(img);
      const o = await ourCheck(img);
      assert.equal(o.code, q.code, 'check exit code');
      for (const k of ['corruptions', 'leaks', 'check-errors']) assert.equal(o.json?.[k], q.json?.[k], `check ${k}`);

      const before = sha256File(img);
      const data = dir.path(`p-${i}.bin`);
      writeFileSync(data, Buffer.alloc(512, 7));
      const w = await cli(['write', img, '0', data]);
      assert.equal(w.code, 1);
      assert.match(w.stderr, /damaged .*refusing to write/);
      assert.equal(sha256File(img), before, 'file unchanged');
      copyFileSync(img, dir.path(`keep-${i}.qcow2`));
    });
  });
});
