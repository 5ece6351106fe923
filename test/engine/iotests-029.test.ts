/**
 * Ports of qemu-iotests 029 (internal snapshots and VM state), compared with qemu-img 7.2: snapshots whose L1
 * table is smaller than the active one (the VM state grew it), VM state at 1 TiB, and a snapshot read with its
 * own L1 size after the header's size and L1 size were shrunk. The iotest applies snapshots with
 * `qemu-img snapshot -a`, which we do not have: qemu-img applies them here and ours reads the result.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { cli, qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { be32, be64, copies, patch, sameConvert, sameViews } from './iotests-support';
import { qemuCheck } from './check-fixtures';

describe('iotest 029: internal snapshots and VM state, compared with qemu-img 7.2', function () {
  this.timeout(30_000);
  const dir = scratchDir('q2i-iotests-029-');
  after(() => dir.cleanup());

  for (const [cluster, size, vmstate] of [
    ['65536', '64M', '4k'],
    ['1024', '16M', '4M'],
  ])
    it(`snapshot L1 smaller than the active L1 (cluster ${cluster}, ${size}, ${vmstate} of VM state): read, then applied by qemu-img`, async () => {
      const p = dir.path(`small-l1-${cluster}.qcow2`);
      qemuImg(['create', '-q', '-f', 'qcow2', '-o', `cluster_size=${cluster}`, p, size]);
      qemuImg(['snapshot', '-c', 'foo', p]);
      qemuIo(p, [`write -b 0 ${vmstate}`]);
      const h = readFileSync(p);
      const snapL1 = h.readUInt32BE(Number(h.readBigUInt64BE(64)) + 8);
      assert.ok(snapL1 < h.readUInt32BE(36), `snapshot L1 (${snapL1}) smaller than the active L1 (${h.readUInt32BE(36)})`);
      await sameViews(p);
      await sameConvert(p, dir.path, ['-l', 'snapshot.name=foo']);
      qemuImg(['snapshot', '-a', 'foo', p]);
      await sameViews(p);
      await sameConvert(p, dir.path);
      assert.equal(qemuCheck(p).code, 0);
    });

  it('VM state at 1 TiB: read as qemu-img; our snapshot of it keeps the state (qemu-io reads it back after qemu-img applies it)', async () => {
    const src = dir.path('vmstate.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', src, '64M']);
    qemuIo(src, ['write -b -P 0x11 1T 4k', 'write -P 0x22 0 64k']);
    await sameViews(src);
    await sameConvert(src, dir.path);
    const [ref, ours] = copies(src, dir.path('vmstate-q.qcow2'), dir.path('vmstate-o.qcow2'));
    qemuImg(['snapshot', '-c', 'foo', ref]);
    const o = await cli(['snapshot', '-c', 'foo', ours]);
    assert.equal(o.code, 0, o.stderr);
    for (const p of [ref, ours]) {
      assert.equal(qemuCheck(p).code, 0, 'clean');
      qemuIo(p, ['write -b -P 0x33 1T 4k']); // the active state moves on; the snapshot keeps 0x11
      qemuImg(['snapshot', '-a', 'foo', p]);
      qemuIo(p, ['read -b -P 0x11 1T 4k', 'read -P 0x22 0 64k']);
      await sameViews(p);
    }
    assert.equal(qemuImg(['compare', '-q', ref, ours], true).code, 0);
  });

  it("a snapshot read with its own L1 size after the header's size and L1 size were shrunk (512-byte clusters)", async () => {
    const p = dir.path('load-tmp.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=512', p, '64M']);
    qemuImg(['snapshot', '-c', 'foo', p]);
    patch(p, 24, be64(512)); // virtual size
    patch(p, 36, be32(1)); // L1 size
    await sameViews(p);
    await sameConvert(p, dir.path, ['-l', 'snapshot.name=foo']);
  });
});
