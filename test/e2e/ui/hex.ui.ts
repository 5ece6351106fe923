/**
 * The guest-disk hex view in a real VS Code (code-server + Chromium):
 * - scroll to the very end of a 4 TiB image (Ctrl+End and the custom scrollbar);
 * - go to an LBA, type bytes, save with Ctrl+S, and qemu-io reads them back (qemu-img check clean);
 * - the partition list of a guest disk partitioned (GPT) by sfdisk is shown, and jumps to a partition.
 * Logs the view's own timings (go to, page fetch round trip through VS Code's postMessage, cached pages).
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import type { FrameLocator } from 'playwright-core';
import { qemuImg, qemuIo } from '../../helpers/qemu';
import { launch, type Workbench } from './harness';

const TiB = 2 ** 40;

async function openHex(wb: Workbench, file: string): Promise<FrameLocator> {
  await wb.openFile(file);
  const view = wb.webview();
  await view.locator('vscode-tab-header[data-tab="hex"]').click({ timeout: 30_000 });
  await view.locator('.hx-root .hx-rows > .hx-row').first().waitFor({ state: 'visible', timeout: 30_000 });
  return view;
}

async function stats(view: FrameLocator): Promise<Record<string, string>> {
  return view.locator('.hx-root').evaluate((el) => ({ ...(el as HTMLElement).dataset }) as Record<string, string>);
}

/** Waits until every visible byte is drawn (no placeholders, nothing stale). */
async function settled(view: FrameLocator): Promise<Record<string, string>> {
  await view.locator('.hx-root[data-complete="true"]').waitFor({ timeout: 20_000 });
  return stats(view);
}

describe('hex view (UI)', function () {
  this.timeout(240_000);
  let wb: Workbench;
  before(async () => {
    wb = await launch();
    const big = join(wb.workspace, 'big4t.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', big, '4T']);
    qemuIo(big, ['write -P 0x61 0 64k', `write -P 0x7e ${4 * TiB - 65536} 65536`]);
    const raw = join(wb.workspace, 'guest.raw');
    execFileSync('truncate', ['-s', '64M', raw]);
    execFileSync('sfdisk', ['-q', raw], { input: 'label: gpt\nsize=8M, type=U, name=EFI-boot\nsize=16M, type=S, name=swap-space\ntype=L, name=root-fs\n' });
    qemuImg(['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, join(wb.workspace, 'guest-gpt.qcow2')]);
    execFileSync('rm', ['-f', raw]);
  });
  after(async () => wb?.close());

  it('scrolls to the end of a 4 TiB image', async () => {
    const view = await openHex(wb, 'big4t.qcow2');
    await settled(view);
    assert.match(await view.locator('.hx-rows > .hx-row').first().innerText(), /^0{11}\s+61 61 61/);
    await wb.screenshot('hex-4t-start');
    // From here on, time page fetches in steady state (the first ones wait for the device to open).
    await view.locator('.hx-root').evaluate(() => (globalThis as unknown as { __hexView: { resetTimings(): void } }).__hexView.resetTimings());

    // Keyboard: Ctrl+End puts the cursor on the last byte and the last row at the bottom.
    await view.locator('.hx-grid').click();
    const t0 = Date.now();
    await view.locator('.hx-grid').press('Control+End');
    await view.locator(`.hx-root[data-cursor="${4 * TiB - 1}"]`).waitFor();
    await settled(view);
    const endMs = Date.now() - t0;
    const rows = await view.locator('.hx-rows > .hx-row:visible').allInnerTexts();
    assert.match(rows[rows.length - 1], /^3fffffffff0\s+7e 7e .* 7e\s+~{16}/);
    await wb.screenshot('hex-4t-end');

    // The custom scrollbar: its thumb sits at the bottom; drag it to the top and back to the end.
    const track = view.locator('.hx-scroll');
    const thumb = view.locator('.hx-thumb');
    const tb = (await track.boundingBox())!;
    const hb = (await thumb.boundingBox())!;
    assert.ok(Math.abs(hb.y + hb.height - (tb.y + tb.height)) <= 2, 'thumb at the bottom');
    await thumb.hover();
    await wb.page.mouse.down();
    await wb.page.mouse.move(hb.x + hb.width / 2, tb.y - 50, { steps: 5 });
    await wb.page.mouse.up();
    let s = await settled(view);
    assert.equal(s.topOffset, '0');
    const hb2 = (await thumb.boundingBox())!;
    await thumb.hover();
    await wb.page.mouse.down();
    await wb.page.mouse.move(hb2.x + hb2.width / 2, tb.y + tb.height + 50, { steps: 5 });
    await wb.page.mouse.up();
    s = await settled(view);
    const lastRowStart = 4 * TiB - 16;
    assert.ok(Number(s.topOffset) > lastRowStart - 200 * 16 && Number(s.topOffset) <= lastRowStart, `top ${s.topOffset}`);
    console.log(
      `      hex 4 TiB: Ctrl+End drawn in ${endMs} ms (incl. Playwright); view's go-to ${s.gotoMs} ms; slowest page fetch through postMessage ${s.maxFetchMs} ms; cached pages ${s.cachePages} (peak ${s.peakCachePages})`,
    );
    assert.ok(Number(s.peakCachePages) <= 64, 'page cache bounded');
  });

  it('goes to an LBA, types bytes, saves, and qemu-io reads them', async () => {
    const view = await openHex(wb, 'big4t.qcow2');
    await settled(view);
    // Ctrl+G reaches the hex view's go-to box (not VS Code's Go to Line).
    await view.locator('.hx-grid').click();
    await view.locator('.hx-grid').press('Control+g');
    await wb.page.keyboard.type('lba 2048');
    await wb.page.keyboard.press('Enter');
    await view.locator(`.hx-root[data-cursor="${2048 * 512}"]`).waitFor();
    const s = await settled(view);
    console.log(`      hex: go to LBA 2048 drawn in ${s.gotoMs} ms (view's own measure)`);
    await view.locator('.hx-grid').focus();
    await view.locator('.hx-grid').pressSequentially('deadbeef');
    await view.locator(`.hx-root[data-cursor="${2048 * 512 + 4}"]`).waitFor();
    // Text column: Tab switches columns; typed characters replace bytes.
    await view.locator('.hx-grid').press('Tab');
    await view.locator('.hx-grid').pressSequentially('QEMU');
    await wb.page.locator('.tabs-container [role="tab"][aria-label*="big4t.qcow2"].dirty').waitFor({ timeout: 10_000 });
    // Unsaved bytes are highlighted (from the journal, after the host confirms the edits).
    await view.locator('.hx-rows .hx-edit').first().waitFor({ timeout: 10_000 });
    assert.match((await view.locator('.hx-rows .hx-edit').allInnerTexts()).join(''), /deadbeef/);
    await wb.screenshot('hex-typed-dirty');
    await view.locator('.hx-grid').press('Control+s');
    await wb.page.locator('.tabs-container [role="tab"][aria-label*="big4t.qcow2"]:not(.dirty)').waitFor({ timeout: 30_000 });
    const image = join(wb.workspace, 'big4t.qcow2');
    qemuIo(image, [`read -P 0xde ${2048 * 512} 1`, `read -P 0xad ${2048 * 512 + 1} 1`, `read -P 0xbe ${2048 * 512 + 2} 1`, `read -P 0xef ${2048 * 512 + 3} 1`]);
    const text = execFileSync('qemu-io', ['-c', `read -v ${2048 * 512 + 4} 4`, image], { encoding: 'utf8' });
    assert.match(text, /51 45 4d 55/, 'QEMU typed in the text column');
    qemuImg(['check', image]);
    await settled(view);
    assert.equal(await view.locator('.hx-rows .hx-edit').count(), 0, 'nothing unsaved after Save');
    await wb.screenshot('hex-saved');
  });

  it('shows the partition list of a GPT made by sfdisk and jumps to a partition', async () => {
    const view = await openHex(wb, 'guest-gpt.qcow2');
    const parts = view.locator('.hx-parts tbody tr');
    await parts.nth(2).waitFor({ timeout: 20_000 });
    const texts = await parts.allInnerTexts();
    assert.match(texts[0], /EFI-boot[\s\S]*EFI System[\s\S]*2048–18431/);
    assert.match(texts[1], /swap-space[\s\S]*Linux swap/);
    assert.match(texts[2], /root-fs[\s\S]*Linux filesystem/);
    await parts.nth(1).click();
    await view.locator(`.hx-root[data-cursor="${18432 * 512}"]`).waitFor();
    await settled(view);
    assert.match(
      await view
        .locator('.hx-mark')
        .allInnerTexts()
        .then((t) => t.join(' ')),
      /p2 swap-space start/,
    );
    await wb.screenshot('hex-gpt-partitions');
    // The map marks the same boundaries.
    await view.locator('vscode-tab-header[data-tab="map"]').click();
    await view.locator('canvas.map-canvas[data-ready="true"]').waitFor({ timeout: 30_000 });
    await view.locator('.legend', { hasText: 'partition boundary' }).waitFor({ timeout: 10_000 });
    await wb.screenshot('map-gpt-partition-boundaries');
  });
});
