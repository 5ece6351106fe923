/**
 * The Files tab in a real VS Code (code-server + Chromium), over a GPT disk holding an ext4 made at test time
 * (`mkfs.ext4 -d`, sfdisk, qemu-img convert):
 * - the tab lists the guest's /etc; Open on /etc/hosts shows its content in an ordinary text editor;
 * - "Show in Hex" lands on the file's first sector (where `fs stat` puts its first extent), and the data
 *   inspector names the file there;
 * - "Show Extents on the Map" frames the map cells that hold /data/big.bin's blocks as `debugfs blocks` lists them,
 *   lists its ranges, and Escape clears it; file-system metadata is painted apart from data, and m toggles it.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { debugfs, makeDisk, makeExt, makeTree, toQcow2 } from '../../helpers/guestfs-fixtures';
import type { FrameLocator } from 'playwright-core';
import { closeAllEditors, launch, type Workbench } from './harness';

const REPO = join(__dirname, '../../..');

/** Opens guest-files.qcow2's Files tab, expands `dir` if needed and selects `file` in it; returns the webview. */
async function selectGuestFile(wb: Workbench, dir: string, file: string): Promise<FrameLocator> {
  await wb.openFile('guest-files.qcow2');
  const view = wb.webview();
  await view.locator('vscode-tab-header[data-tab="files"]').click({ timeout: 30_000 });
  const dirItem = view.locator(`vscode-tree-item[data-guest-path="${dir}"]`);
  await dirItem.waitFor({ state: 'visible', timeout: 30_000 });
  const item = view.locator(`vscode-tree-item[data-guest-path="${file}"]`);
  if (!(await item.isVisible())) await dirItem.click({ position: { x: 40, y: 8 } });
  await item.waitFor({ state: 'visible', timeout: 30_000 });
  await item.click({ position: { x: 60, y: 8 } });
  return view;
}

describe('Files tab (UI)', function () {
  this.timeout(240_000);
  let wb: Workbench;
  let hostsText = '';
  let hostsOffset = 0;
  /** Guest-disk offsets of /data/big.bin's blocks, from debugfs. */
  let bigBlocks: number[] = [];

  before(async () => {
    wb = await launch();
    const tmp = join(wb.workspace, '.fixture');
    mkdirSync(join(tmp, 'tree'), { recursive: true });
    makeTree(join(tmp, 'tree'), { seed: 7, bigBytes: 256 * 1024 });
    hostsText = readFileSync(join(tmp, 'tree/etc/hosts'), 'utf8');
    const fs = makeExt(join(tmp, 'root.img'), join(tmp, 'tree'), 'ext4', 16, ['-b', '4096', '-O', '^inline_data']);
    const [part] = makeDisk(join(tmp, 'disk.raw'), 'gpt', [fs]);
    toQcow2(join(tmp, 'disk.raw'), join(wb.workspace, 'guest-files.qcow2'), 'plain');
    // Where the reference tool puts /etc/hosts: its first block (debugfs) past the partition's start.
    const block = Number(debugfs(fs, 'blocks /etc/hosts').trim().split(/\s+/)[0]);
    hostsOffset = part.start + block * 4096;
    bigBlocks = debugfs(fs, 'blocks /data/big.bin')
      .trim()
      .split(/\s+/)
      .map((b) => part.start + Number(b) * 4096);
    assert.equal(bigBlocks.length, 64, '256 KiB in 4 KiB blocks');
    const stat = JSON.parse(
      execFileSync('node', [join(REPO, 'dist/cli.js'), 'fs', 'stat', '--output=json', join(wb.workspace, 'guest-files.qcow2'), '1:/etc/hosts'], {
        encoding: 'utf8',
      }),
    );
    assert.equal(stat.extents[0]['guest-offset'], hostsOffset, 'fs stat and debugfs agree on where /etc/hosts lies');
  });
  after(async () => wb?.close());

  it('lists /etc and opens /etc/hosts in a text editor with its content', async () => {
    await wb.openFile('guest-files.qcow2');
    const view = wb.webview();
    await view.locator('vscode-tab-header[data-tab="files"]').click({ timeout: 30_000 });
    // One file system: its top level is listed at once.
    const etc = view.locator('vscode-tree-item[data-volume="1"][data-guest-path="/etc"]');
    await etc.waitFor({ state: 'visible', timeout: 30_000 });
    await view.locator('vscode-tree-item[data-guest-path="/data"]').waitFor({ state: 'visible' });
    await etc.click({ position: { x: 40, y: 8 } });
    const hosts = view.locator('vscode-tree-item[data-guest-path="/etc/hosts"]');
    await hosts.waitFor({ state: 'visible', timeout: 30_000 });
    const names = await view.locator('vscode-tree-item[data-guest-path^="/etc/"]').evaluateAll((els) => els.map((e) => (e as HTMLElement).dataset.name));
    assert.deepEqual([...names].sort(), ['empty', 'hosts', 'medium.txt', 'tiny']);
    // Size and time are shown beside the name.
    assert.match(await hosts.locator('[slot="description"]').innerText(), new RegExp(`^${hostsText.length} B\\s+\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d$`));
    await wb.screenshot('files-etc');

    // The filter keeps /etc (it holds a match) and hides what does not match.
    const filter = view.locator('.files-toolbar vscode-textfield');
    await filter.click();
    await wb.page.keyboard.type('host');
    await view.locator('vscode-tree-item[data-guest-path="/etc/tiny"][hidden]').waitFor({ state: 'attached' });
    assert.equal(await hosts.isVisible(), true);
    await wb.page.keyboard.press('Control+A');
    await wb.page.keyboard.press('Backspace');
    await view.locator('vscode-tree-item[data-guest-path="/etc/tiny"]:not([hidden])').waitFor({ state: 'attached' });

    await hosts.click({ position: { x: 60, y: 8 } });
    await view.locator('vscode-button[data-action="open"]:not([disabled])').click();
    const tab = wb.page.locator('.tabs-container .tab', { hasText: 'hosts' });
    await tab.waitFor({ state: 'visible', timeout: 30_000 });
    const lines = wb.page.locator('.editor-group-container.active .monaco-editor .view-lines');
    await lines.waitFor({ state: 'visible', timeout: 30_000 });
    // Monaco draws spaces as no-break spaces.
    await wb.page.waitForFunction(
      (first) =>
        [...document.querySelectorAll('.editor-group-container.active .monaco-editor .view-lines')].some((e) =>
          (e as HTMLElement).innerText.replace(/\u00a0/g, ' ').includes(first),
        ),
      hostsText.split('\n')[0],
      { timeout: 30_000 },
    );
    const shown = (await lines.innerText()).replace(/\u00a0/g, ' ');
    for (const line of hostsText.trimEnd().split('\n')) assert.ok(shown.includes(line), `editor lacks ${line}: ${shown}`);
    await wb.screenshot('files-open-hosts');
    await closeAllEditors(wb);
  });

  it('"Show in Hex" lands on the first sector of /etc/hosts and the inspector names the file', async () => {
    const view = await selectGuestFile(wb, '/etc', '/etc/hosts');
    // The context menu, as opened from the keyboard (Shift+F10), and its "Show in Hex".
    await wb.page.keyboard.press('Shift+F10');
    const menu = view.locator('vscode-context-menu.files-menu');
    await menu.locator('vscode-context-menu-item', { hasText: 'Show in Hex' }).click();
    await view.locator(`.hx-root[data-cursor="${hostsOffset}"]`).waitFor({ timeout: 30_000 });
    const owner = view.locator(`.hx-owner[data-offset="${hostsOffset}"]`);
    await owner.waitFor({ state: 'attached', timeout: 30_000 });
    assert.equal(await owner.evaluate((el) => el.firstChild?.textContent), '/etc/hosts, offset 0x0');
    assert.match((await owner.getAttribute('title')) ?? '', /^partition 1 \(ext4\)/);
    await wb.screenshot('files-show-in-hex');

    // And back: the inspector's "Show in Files" opens the Files tab at /etc/hosts, selected.
    await owner.locator('button.hx-owner-link').click();
    await view.locator('vscode-tree-item[data-guest-path="/etc/hosts"][selected]').waitFor({ state: 'visible', timeout: 30_000 });
    await view.locator('vscode-button[data-action="open"]:not([disabled])').waitFor({ timeout: 10_000 });
  });

  it('"Show Extents on the Map" frames the cells holding /data/big.bin\'s blocks as debugfs lists them; Escape clears', async () => {
    await closeAllEditors(wb);
    const view = await selectGuestFile(wb, '/data', '/data/big.bin');
    await wb.page.keyboard.press('Shift+F10');
    await view.locator('vscode-context-menu.files-menu vscode-context-menu-item', { hasText: 'Show Extents on the Map' }).click();

    // The panel lists the file's ranges: debugfs's blocks joined where contiguous.
    const runs: [number, number][] = [];
    for (const o of bigBlocks) {
      const last = runs[runs.length - 1];
      if (last && last[0] + last[1] === o) last[1] += 4096;
      else runs.push([o, 4096]);
    }
    const listed = view.locator('.map-extents button.map-extent');
    await listed.first().waitFor({ state: 'visible', timeout: 30_000 });
    const shown = await listed.evaluateAll((els) =>
      els.map((e) => [Number((e as HTMLElement).dataset.guestOffset), Number((e as HTMLElement).dataset.length)]),
    );
    assert.deepEqual(shown, runs);
    assert.match(await view.locator('.legend').innerText(), /extents of \/data\/big\.bin/);

    // The cells framed are exactly those holding a block, on the grid drawn now.
    const canvas = view.locator('.map-canvas[data-ready="true"][data-extent-cells]:not([data-extent-cells=""])');
    await canvas.waitFor({ state: 'attached', timeout: 30_000 });
    const grid = await canvas.evaluate((el) => ({ ...(el as HTMLElement).dataset }));
    const start = Number(grid.start);
    const cellBytes = Number(grid.cellBytes);
    const expected = [...new Set(bigBlocks.flatMap((o) => [o, o + 4095]).map((o) => Math.floor((o - start) / cellBytes)))].sort((a, b) => a - b);
    assert.deepEqual(grid.extentCells!.split(',').map(Number), expected, `grid ${JSON.stringify(grid)}`);
    await wb.screenshot('files-extents-on-map');

    // File-system metadata is painted apart from data (shown by default); the m key hides and shows it again.
    assert.ok(Number(grid.metadataCells) > 0, `metadata cells: ${grid.metadataCells}`);
    assert.match(await view.locator('.legend').innerText(), /file-system metadata/);
    await view.locator('.map-canvas').focus();
    await wb.page.keyboard.press('m');
    await view.locator('.map-canvas[data-metadata-cells="0"]').waitFor({ state: 'attached', timeout: 10_000 });
    assert.equal(await view.locator('.map-metadata-toggle').getAttribute('aria-pressed'), 'false');
    await wb.page.keyboard.press('m');
    await view.locator('.map-canvas:not([data-metadata-cells="0"])').waitFor({ state: 'attached', timeout: 10_000 });

    // Keyboard: Escape on the map clears the overlay.
    await view.locator('.map-canvas').focus();
    await wb.page.keyboard.press('Escape');
    await view.locator('.map-extents[hidden]').waitFor({ state: 'attached', timeout: 10_000 });
    await view.locator('.map-canvas[data-extent-cells=""]').waitFor({ state: 'attached', timeout: 10_000 });
  });

  it('"Open Guest File System in Explorer" adds the guest as a workspace folder whose files open in editors', async () => {
    await closeAllEditors(wb);
    // A multi-root workspace from the start: adding a folder to a single-folder window makes the web workbench
    // reload into a new untitled workspace, which now and then comes back with no folders at all (VS Code's race,
    // not the extension's), so the test opens a .code-workspace of its folder first.
    const wsFile = join(wb.workspace, '.fixture', 'files-test.code-workspace');
    writeFileSync(wsFile, JSON.stringify({ folders: [{ path: wb.workspace }] }));
    await wb.page.goto(wb.page.url().replace(/([?&])folder=[^&]*/, `$1workspace=${encodeURIComponent(wsFile)}`));
    // The reloaded window may come back with another view in the side bar: show the Explorer (until it lists rows).
    const anyRow = wb.page.locator('.explorer-folders-view .monaco-list-row').first();
    await wb.page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: 60_000 });
    for (let i = 0; i < 6 && !(await anyRow.isVisible()); i++) {
      await wb.runCommand('View: Show Explorer').catch(() => undefined);
      await anyRow.waitFor({ state: 'visible', timeout: 10_000 }).catch(() => undefined);
    }
    await anyRow.waitFor({ state: 'visible', timeout: 10_000 });
    await wb.openFile('guest-files.qcow2');
    await wb.webview().locator('vscode-tab-header').first().waitFor({ timeout: 30_000 });
    await wb.runCommand('QCOW2: Open Guest File System in Explorer');
    const folder = wb.page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'guest-files.qcow2 (guest)' });
    await folder.waitFor({ state: 'visible', timeout: 60_000 });
    const row = (name: string) => wb.page.locator('.explorer-folders-view .monaco-list-row').filter({ hasText: new RegExp(`^\\s*${name}\\s*$`) });
    const expand = async (name: string) => {
      const r = row(name);
      await r.waitFor({ state: 'visible', timeout: 30_000 });
      if ((await r.getAttribute('aria-expanded')) !== 'true') await r.click();
    };
    // The explorer lists the folder once the provider answers (a new window activates us by onFileSystem:qcow2-guest).
    for (let i = 0; i < 4 && !(await row('1').isVisible()); i++) {
      if ((await folder.getAttribute('aria-expanded')) === 'false') await folder.click().catch(() => undefined);
      await row('1')
        .waitFor({ state: 'visible', timeout: 15_000 })
        .catch(() => undefined);
    }
    await expand('1');
    await expand('etc');
    await row('hosts').click();
    const lines = wb.page.locator('.editor-group-container.active .monaco-editor .view-lines');
    await wb.page.waitForFunction(
      (first) =>
        [...document.querySelectorAll('.editor-group-container.active .monaco-editor .view-lines')].some((e) =>
          (e as HTMLElement).innerText.replace(/\u00a0/g, ' ').includes(first),
        ),
      hostsText.split('\n')[0],
      { timeout: 30_000 },
    );
    assert.ok((await lines.innerText()).replace(/\u00a0/g, ' ').includes(hostsText.split('\n')[1]));
    await wb.screenshot('files-explorer-folder');
  });
});
