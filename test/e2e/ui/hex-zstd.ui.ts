/**
 * The Hex tab of a zstd-compressed image in a real VS Code (issue #18). The extension host runs Node 24, whose
 * node:zlib decodes zstd natively; qemu-io's compressed writes pack several clusters into one sector, so each
 * cluster's sector-rounded bytes end with the next cluster's frame. The bytes that qemu-io wrote must show.
 */
import * as assert from 'node:assert/strict';
import { join } from 'node:path';
import type { FrameLocator } from 'playwright-core';
import { qemuImg, qemuIo } from '../../helpers/qemu';
import { launch, type Workbench } from './harness';

const patterns = [0x5a, 0xa5, 0x3c, 0xc3];

async function goTo(view: FrameLocator, offset: number): Promise<string> {
  // fill() replaces the box's text whatever it held (Ctrl+G's own behaviour is tested in hex-writes.ui.ts).
  await view.locator('.hx-goto').fill(`0x${offset.toString(16)}`);
  await view.locator('.hx-goto').press('Enter');
  await view.locator(`.hx-root[data-cursor="${offset}"]`).waitFor();
  await view.locator('.hx-root[data-complete="true"]').waitFor({ timeout: 20_000 });
  const rows = await view.locator('.hx-rows > .hx-row:visible').allInnerTexts();
  const row = rows.find((r) => new RegExp(`^0*${offset.toString(16)}\\s`).test(r));
  assert.ok(row, `a row starts at 0x${offset.toString(16)}: ${rows.slice(0, 3).join(' | ')}`);
  return row;
}

describe('hex view of a zstd image (UI)', function () {
  this.timeout(240_000);
  let wb: Workbench;
  before(async () => {
    wb = await launch();
    const img = join(wb.workspace, 'packed-zstd.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'compression_type=zstd,cluster_size=65536', img, '16M']);
    qemuIo(
      img,
      patterns.map((p, i) => `write -c -P ${p} ${i * 65536} 65536`),
    );
    // One qemu-io process packs the four compressed streams into one sector (checked by hand: offsets 0x50000 +20 each).
    const map = JSON.parse(qemuImg(['map', '--output=json', img]).stdout) as { start: number; length: number; data: boolean }[];
    assert.ok(map.some((e) => e.start === 0 && e.length === 4 * 65536 && e.data));
  });
  after(async () => wb?.close());

  it('shows the bytes qemu-io wrote into packed zstd clusters', async () => {
    await wb.openFile('packed-zstd.qcow2');
    const view = wb.webview();
    await view.locator('vscode-tab-header[data-tab="hex"]').click({ timeout: 30_000 });
    await view.locator('.hx-root .hx-rows > .hx-row').first().waitFor({ state: 'visible', timeout: 30_000 });
    for (let i = 0; i < patterns.length; i++) {
      const hex = patterns[i].toString(16).padStart(2, '0');
      const row = await goTo(view, i * 65536 + 4096);
      assert.match(row, new RegExp(`\\s${hex} ${hex} ${hex}`), `cluster ${i} shows 0x${hex}: ${row}`);
    }
    assert.equal(await view.locator('.hx-error, .error-page').count(), 0, 'no read error shown');
    await wb.screenshot('hex-zstd-packed');
  });
});
