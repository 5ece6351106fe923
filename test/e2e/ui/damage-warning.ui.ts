/**
 * The Overview's damage warning in a real VS Code (code-server + Chromium): an image whose inactive snapshot has
 * an unaligned L1 table offset (iotest 080's case) opens, the Overview says it is damaged and names the snapshot,
 * and the active disk's facts are shown as for a healthy image.
 */
import * as assert from 'node:assert/strict';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { qemuImg, qemuIo } from '../../helpers/qemu';
import { launch, type Workbench } from './harness';

/** Points the first snapshot's L1 table at 0x400200 (not cluster-aligned), as iotest 080 does. */
function unalignSnapshotL1(path: string): void {
  const table = Number(readFileSync(path).readBigUInt64BE(64));
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(0x400200n);
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, b, 0, 8, table);
  } finally {
    closeSync(fd);
  }
}

describe('Overview damage warning (UI)', function () {
  this.timeout(180_000);
  let wb: Workbench;
  before(async () => {
    wb = await launch();
    const img = join(wb.workspace, 'bad-snapshot.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', img, '64M']);
    qemuIo(img, ['write -P 0x11 0 64k']);
    qemuImg(['snapshot', '-c', 's1', img]);
    unalignSnapshotL1(img);
  });
  after(async () => wb?.close());

  it('opens an image with a bad snapshot L1 offset and shows the damage warning on the Overview', async () => {
    await wb.openFile('bad-snapshot.qcow2');
    const view = wb.webview();
    const warning = view.locator('.warning-damaged');
    await warning.waitFor({ state: 'visible', timeout: 60_000 }).catch(async (err) => {
      await wb.screenshot('damage-warning-failure');
      throw err;
    });
    const text = await warning.innerText();
    assert.match(text, /The image is damaged \(/);
    assert.match(text, /snapshot .*L1 table offset is not cluster-aligned/);
    assert.match(text, /nothing is written until it is repaired/);
    assert.equal(await warning.getAttribute('role'), 'alert');
    // The image still opened: the active disk's facts are there.
    assert.match(await view.locator('#fact-virtual-size').innerText(), /64 MiB/);
    await wb.screenshot('damage-warning-overview');
  });
});
