/**
 * Layouts that fit, and a map that tells the truth (#20 points 5, 6, 7; #16 item 6), in a real VS Code at 1000×700:
 * - Hex: with bytes per row on "auto" every byte column and the text column are inside the grid; with 16 chosen,
 *   the grid scrolls sideways to 0f and the text column; the data inspector collapses.
 * - Two editors side by side: every tab header of both is on screen and opens its tab.
 * - Overview: raw values never wrap inside, and the header table scrolls to its Meaning column.
 * - Map: a 256 KiB run at 1 GiB of a 20 GiB disk is one cell starting at 1 GiB; the hover card shows the whole run;
 *   a click opens the hex view at its first byte.
 * - A partition boundary label in the hex view carries its full text as a tooltip.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { mkdirSync, writeFileSync } from 'node:fs';
import type { FrameLocator, Locator } from 'playwright-core';
import { qemuImg, qemuIo } from '../../helpers/qemu';
import { makeThreeLayerChain } from '../../helpers/editor-fixtures';
import { closeAllEditors, launch, type Workbench } from './harness';

const GiB = 2 ** 30;

async function focusWorkbench(wb: Workbench): Promise<void> {
  await wb.page.locator('.part.sidebar .composite.title').first().click();
}

async function open(wb: Workbench, name: string): Promise<FrameLocator> {
  await focusWorkbench(wb);
  await wb.openFile(name);
  return wb.webview();
}

async function hexTab(view: FrameLocator): Promise<void> {
  await view.locator('vscode-tab-header[data-tab="hex"]').click({ timeout: 30_000 });
  await view.locator('.hx-root[data-complete="true"]').waitFor({ timeout: 30_000 });
}

type Box = { x: number; y: number; width: number; height: number };
const box = async (l: Locator): Promise<Box> => (await l.boundingBox())!;
const inside = (a: Box, b: Box) => a.x >= b.x - 1 && a.x + a.width <= b.x + b.width + 1 && a.y >= b.y - 1 && a.y + a.height <= b.y + b.height + 1;

/** Every byte column of the header row and the text column lie inside the grid's visible box. */
async function allColumnsVisible(view: FrameLocator): Promise<{ bpr: number; head: string }> {
  const grid = await box(view.locator('.hx-grid'));
  const head = view.locator('.hx-head');
  const hexBox = await box(head.locator('.hx-hex'));
  const txtBox = await box(head.locator('.hx-txt'));
  assert.ok(inside(hexBox, grid), `hex columns ${JSON.stringify(hexBox)} outside the grid ${JSON.stringify(grid)}`);
  assert.ok(inside(txtBox, grid), `text column ${JSON.stringify(txtBox)} outside the grid ${JSON.stringify(grid)}`);
  const bpr = Number(await view.locator('.hx-root').getAttribute('data-bytes-per-row'));
  return { bpr, head: await head.locator('.hx-hex').innerText() };
}

describe('layouts that fit (UI, 1000×700)', function () {
  this.timeout(300_000);
  let wb: Workbench;
  before(async () => {
    wb = await launch({ viewport: { width: 1000, height: 700 } });
    // Made before the first Quick Open: files created later may be missing from its cached file list.
    makeThreeLayerChain(wb.workspace);
    const disk = join(wb.workspace, 'disk20g.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', disk, '20G']);
    qemuIo(disk, ['write -P 0x41 0 64k', `write -P 0x5a ${GiB} 256k`]);
    const raw = join(wb.workspace, 'guest.raw');
    execFileSync('truncate', ['-s', '64M', raw]);
    execFileSync('sfdisk', ['-q', raw], {
      input: 'label: gpt\nsize=8M, type=U, name=EFI-boot\nsize=16M, type=S, name=a-rather-long-swap-partition-name\ntype=L, name=root-fs\n',
    });
    qemuImg(['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, join(wb.workspace, 'guest-gpt.qcow2')]);
    execFileSync('rm', ['-f', raw]);
  });
  after(async () => wb?.close());

  it('hex at 1000×700: "auto" shows every byte column and the text column; 16 scrolls sideways to them', async () => {
    const view = await open(wb, 'disk20g.qcow2');
    await hexTab(view);
    const auto = await allColumnsVisible(view);
    assert.ok(auto.bpr >= 8, `auto chose ${auto.bpr} bytes per row`);
    assert.match(auto.head, new RegExp(`${(auto.bpr - 1).toString(16).padStart(2, '0')}$`));
    // Bytes 00…0f are all on screen: the first rows hold 16 bytes of 0x41, in hex and as text.
    const rows = await view.locator('.hx-rows > .hx-row').allInnerTexts();
    const shown = rows.slice(0, 16 / Math.min(16, auto.bpr)).join('\n');
    assert.equal((shown.match(/\b41\b/g) ?? []).length, 16, shown);
    assert.equal((shown.match(/A/g) ?? []).length, 16);
    await wb.screenshot('layout-hex-auto-1000x700');

    // An explicit 16: at this width the grid scrolls sideways, and scrolling reaches 0f and the text column.
    await view.locator('label', { hasText: 'Bytes/row' }).locator('select').selectOption('16');
    await view.locator('.hx-root[data-bytes-per-row="16"]').waitFor();
    await view.locator('.hx-grid').evaluate((g) => (g.scrollLeft = g.scrollWidth));
    const grid = await box(view.locator('.hx-grid'));
    const txt = await box(view.locator('.hx-head .hx-txt'));
    assert.ok(inside(txt, grid), 'text column reachable by scrolling');
    assert.match(await view.locator('.hx-head .hx-hex').innerText(), /0f$/);
    await wb.screenshot('layout-hex-16-scrolled');

    // The data inspector collapses, and "auto" then fits more bytes.
    await view.locator('label', { hasText: 'Bytes/row' }).locator('select').selectOption('auto');
    const toggle = view.locator('button.hx-ins-toggle');
    const wasOpen = (await toggle.getAttribute('aria-expanded')) === 'true';
    await toggle.click();
    await view.locator(`button.hx-ins-toggle[aria-expanded="${!wasOpen}"]`).waitFor();
    assert.equal(await view.locator('.hx-side').isVisible(), !wasOpen);
    if (wasOpen) {
      await wb.page.waitForFunction(() => true);
      const after = await allColumnsVisible(view);
      assert.ok(after.bpr >= auto.bpr);
    }
    await wb.screenshot('layout-hex-inspector-toggled');
    await closeAllEditors(wb);
  });

  it('two editors side by side: every tab of both is on screen and opens; hex still shows all its columns', async () => {
    const view = await open(wb, 'disk20g.qcow2');
    await view.locator('table.header-fields').waitFor({ timeout: 30_000 });
    await focusWorkbench(wb);
    await wb.runCommand('View: Split Editor Right');
    await wb.page.locator('iframe.webview').nth(1).waitFor({ timeout: 30_000 });
    await wb.webview(1).locator('vscode-tab-header').first().waitFor({ timeout: 30_000 });
    const vw = wb.page.viewportSize()!;
    for (const i of [0, 1]) {
      const v = wb.webview(i);
      const frame = await box(wb.page.locator('iframe.webview').nth(i));
      assert.ok(frame.width < 420, `editor ${i} is ${frame.width} px wide`);
      for (const id of ['overview', 'chain', 'map', 'integrity', 'usage', 'files', 'hex']) {
        const header = v.locator(`vscode-tab-header[data-tab="${id}"]`);
        const b = await box(header);
        assert.ok(inside(b, frame) && b.x + b.width <= vw.width, `editor ${i}: tab ${id} at ${JSON.stringify(b)} outside ${JSON.stringify(frame)}`);
        await header.click();
        await v.locator(`vscode-tab-panel[data-view="${id}"] section.view`).waitFor({ state: 'visible', timeout: 10_000 });
      }
    }
    await wb.screenshot('layout-split-tabs');
    // The Overview in a ~320 px editor: no raw value breaks inside, and its header table scrolls sideways instead.
    const left = wb.webview(0);
    await left.locator('vscode-tab-header[data-tab="overview"]').click();
    await left.locator('table.header-fields').waitFor({ state: 'visible' });
    const brokenNarrow = await left
      .locator('table.header-fields code')
      .evaluateAll((els) => els.filter((e) => e.getClientRects().length > 1).map((e) => e.textContent));
    assert.deepEqual(brokenNarrow, []);
    const scroller = left.locator('.table-scroll', { has: left.locator('table.header-fields') });
    assert.ok(await scroller.evaluate((e) => e.scrollWidth > e.clientWidth), 'the wide table scrolls');
    await left.locator('table.header-fields th').last().scrollIntoViewIfNeeded();
    await wb.screenshot('layout-split-overview');
    await left.locator('vscode-tab-header[data-tab="hex"]').click();
    const right = wb.webview(1);
    await right.locator('.hx-root[data-complete="true"]').waitFor({ timeout: 30_000 });
    const narrow = await allColumnsVisible(right);
    assert.ok(narrow.bpr >= 4);
    assert.equal(await right.locator('.hx-side').isVisible(), false, 'the inspector starts hidden in a narrow editor');
    await wb.screenshot('layout-split-hex');
    await closeAllEditors(wb);
  });

  it('overview: raw values never break inside, and the header table scrolls to its Meaning column', async () => {
    const view = await open(wb, 'disk20g.qcow2');
    await view.locator('table.header-fields').waitFor({ timeout: 30_000 });
    const broken = await view
      .locator('table.header-fields code')
      .evaluateAll((els) =>
        els
          .filter((e) => e.getClientRects().length > 1 || e.getBoundingClientRect().height > 2 * parseFloat(getComputedStyle(e).lineHeight || '16'))
          .map((e) => e.textContent),
      );
    assert.deepEqual(broken, []);
    const meaning = view.locator('table.header-fields th').last();
    await meaning.scrollIntoViewIfNeeded();
    const frame = await box(wb.page.locator('iframe.webview').first());
    assert.ok(inside(await box(meaning), frame), 'Meaning header reachable');
    await wb.screenshot('layout-overview');
    await closeAllEditors(wb);
  });

  it('map: the 256 KiB run at 1 GiB is one cell starting at 1 GiB; hover shows the whole run; click opens its first byte', async () => {
    const view = await open(wb, 'disk20g.qcow2');
    await view.locator('vscode-tab-header[data-tab="map"]').click();
    const canvas = view.locator('canvas.map-canvas[data-ready="true"]');
    await canvas.waitFor({ timeout: 30_000 });
    const d = await canvas.evaluate((c) => ({ ...(c as HTMLElement).dataset }) as Record<string, string>);
    const cellBytes = Number(d.cellBytes);
    assert.equal(Number.isInteger(Math.log2(cellBytes)), true, `cell of ${cellBytes} bytes`);
    assert.equal(GiB % cellBytes, 0, '1 GiB starts a cell');
    const i = (GiB - Number(d.start)) / cellBytes;
    const cols = Number(d.cols);
    const position = { x: (i % cols) * 8 + 3, y: Math.floor(i / cols) * 8 + 3 };
    await canvas.hover({ position });
    const card = view.locator('.hover-card');
    await card.waitFor({ state: 'visible', timeout: 10_000 });
    await card.locator('dd', { hasText: 'data' }).first().waitFor({ timeout: 10_000 });
    const text = await card.innerText();
    assert.match(text, /Run\s+0x0*40000000\s*[–-]\s*0x0*4003ffff/i, text);
    assert.match(text, /Kind\s+data/);
    await wb.screenshot('layout-map-hover');
    await canvas.click({ position });
    await view.locator(`.hx-root[data-cursor="${GiB}"]`).waitFor({ timeout: 30_000 });
    await closeAllEditors(wb);
  });

  it('a partition boundary label in the hex view shows its whole text on hover', async () => {
    const view = await open(wb, 'guest-gpt.qcow2');
    await hexTab(view);
    const parts = view.locator('.hx-parts tbody tr');
    if (!(await parts.first().isVisible())) await view.locator('button.hx-ins-toggle').click();
    await parts.nth(1).click();
    await view.locator(`.hx-root[data-cursor="${18432 * 512}"]`).waitFor();
    const mark = view.locator('.hx-mark', { hasText: '▶' }).first();
    await mark.waitFor({ timeout: 10_000 });
    assert.equal(await mark.getAttribute('title'), '◀ p1 end · ▶ p2 a-rather-long-swap-partition-name start');
    await wb.screenshot('layout-partition-label');
    await closeAllEditors(wb);
  });

  it('with qcow2Inspector.sectorSize = 4096 the partition list counts in the unit of the go-to box', async () => {
    mkdirSync(join(wb.workspace, '.vscode'), { recursive: true });
    writeFileSync(join(wb.workspace, '.vscode', 'settings.json'), JSON.stringify({ 'qcow2Inspector.sectorSize': 4096 }));
    await wb.page.waitForTimeout(1500); // let VS Code read the new settings file before the editor opens
    const view = await open(wb, 'guest-gpt.qcow2');
    await hexTab(view);
    const parts = view.locator('.hx-parts tbody tr');
    if (!(await parts.first().isVisible())) await view.locator('button.hx-ins-toggle').click();
    await view.locator('.hx-parts th', { hasText: 'LBA range (4096 B)' }).waitFor({ timeout: 20_000 });
    // sfdisk's first partition: 512-byte LBAs 2048–18431 = 4096-byte LBAs 256–2303.
    assert.match(await parts.first().innerText(), /256–2303/);
    assert.match(await view.locator('.hx-side').innerText(), /The table uses 512-byte LBAs/);
    await view.locator('.hx-goto').fill('lba 256');
    await view.locator('.hx-goto').press('Enter');
    await view.locator(`.hx-root[data-cursor="${2048 * 512}"]`).waitFor({ timeout: 10_000 });
    await wb.screenshot('layout-partitions-4096');
    await closeAllEditors(wb);
  });

  for (const [theme, cls] of [
    ['Default High Contrast', 'hc-black'],
    ['Default Dark Modern', 'vs-dark'],
  ]) {
    it(`map legend of a three-layer chain: every kind and backing layer has its own colour (${theme})`, async () => {
      // The theme through the workspace settings (the theme picker's rows are slow to match under load).
      mkdirSync(join(wb.workspace, '.vscode'), { recursive: true });
      writeFileSync(join(wb.workspace, '.vscode', 'settings.json'), JSON.stringify({ 'workbench.colorTheme': theme }));
      await wb.page.waitForFunction((c) => document.querySelector('.monaco-workbench')?.classList.contains(c) ?? false, cls, { timeout: 20_000 });
      const view = await open(wb, 'top.qcow2');
      await view.locator('vscode-tab-header[data-tab="map"]').click();
      await view.locator('canvas.map-canvas[data-ready="true"]').waitFor({ timeout: 30_000 });
      await view.locator('.legend-item', { hasText: 'backing layer 2' }).waitFor({ timeout: 10_000 });
      // The swatches as painted (theme variables resolved by the browser): all different.
      const colours = await view
        .locator('.legend-item .swatch')
        .evaluateAll((els) => els.map((e) => `${getComputedStyle(e).backgroundColor}@${getComputedStyle(e).opacity}`));
      const labels = await view.locator('.legend-item').allInnerTexts();
      assert.ok(colours.length >= 6, labels.join(' | '));
      const layer = (n: number) => colours[labels.findIndex((l) => l.includes(`backing layer ${n}`))];
      assert.notEqual(layer(1).split('@')[0], layer(2).split('@')[0], `layers 1 and 2: ${layer(1)} vs ${layer(2)}`);
      assert.equal(new Set(colours.map((c) => c.split('@')[0])).size, colours.length, colours.join(', '));
      await wb.screenshot(`layout-map-layers-${theme.replace(/ /g, '-').toLowerCase()}`);
      await closeAllEditors(wb);
    });
  }
});
