/**
 * Damage qemu-img opens through (issue #19) shows in the editor: the Overview warns (naming the damage) and the
 * hex view takes no edits, with a refusal that names it; the engine refuses the write anyway.
 */
import { strict as assert } from 'node:assert';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { editBlocker, writeBlockers } from '../../src/extension/hex-safety';
import { imageWarnings } from '../../src/extension/overview';
import { openImage } from '../../src/qcow2';
import { qemuImg, scratchDir } from '../helpers/qemu';

describe('editor: damage found at open', function () {
  this.timeout(30_000);
  const s = scratchDir('q2i-damage-warn-');
  after(() => s.cleanup());

  it('an unaligned snapshot L1 table: Overview warning and a hex-edit blocker naming it', async () => {
    const img = s.path('snap.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', img, '1M']);
    qemuImg(['snapshot', '-c', 's1', img]);
    const entry = Number(readFileSync(img).readBigUInt64BE(64));
    const fd = openSync(img, 'r+');
    writeSync(fd, Buffer.from([0, 0, 0x02, 0x00]), 0, 4, entry + 4); // L1 offset + 0x200 (low word)
    closeSync(fd);
    const dev = await openImage(img, { readOnly: true });
    try {
      const w = imageWarnings(dev).find((x) => x.kind === 'damaged');
      assert.ok(w, 'a damaged warning');
      assert.match(w.message, /snapshot 0 \(id 1\) L1 table offset is not cluster-aligned/);
      const blocker = await editBlocker(img, dev, undefined, true);
      assert.equal(blocker?.kind, 'damaged');
      assert.equal(blocker?.action, 'refuse');
      assert.match(blocker!.message, /damaged \(snapshot 0 .*\); repair it with qemu-img check -r all/);
    } finally {
      await dev.close();
    }
  });

  it('writeBlockers: no damage, no blocker', () => {
    assert.deepEqual(writeBlockers({ corrupt: false, damage: [], cryptMethod: 0, workspaceTrusted: true }), []);
  });
});
