/**
 * The hex view's Find widget in a real VS Code (code-server + Chromium), issue #12:
 * - Ctrl+F finds a planted string and selects it; F3 / Shift+F3 go to the next / previous hit, round the end;
 * - hex mode (picked in the mode dropdown) finds the same bytes; match case; scope one partition of the GPT;
 * - "Find all" lists the hits (offset, LBA, partition name, preview); a click and Enter on a row jump there;
 * - the first hit at the end of a 4 TiB sparse image (the holes are skipped);
 * - cancel stops a whole-disk search of a 64 GiB image whose every cluster is allocated (read, not skipped).
 * Fixtures: a GPT disk made by sfdisk with strings written into it, converted by qemu-img; qemu-img's
 * preallocation=metadata for the big one.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { FrameLocator } from 'playwright-core';
import { qemuImg, qemuIo } from '../../helpers/qemu';
import { debugfs, makeDisk, makeExt } from '../../helpers/guestfs-fixtures';
import { closeAllEditors, launch, openHexTab, type Workbench } from './harness';

const NEEDLE = 'NEEDLE-Q2I';
/** In /notes/secret.txt of an ext4 partition (and in /other.txt, which a file scope must not find), at this file offset. */
const FILE_NEEDLE = 'FILE-NEEDLE-7';
const FILE_AT = 5000;
/** In partition 1 (boot-part, 1 MiB..9 MiB), twice on one screen; across a 64 KiB cluster boundary; in partition 2 (data-part). */
const HITS = [0x123456, 0x123496, 0x2ffffc, 0x3456789];

async function openHex(wb: Workbench, file: string): Promise<FrameLocator> {
  const view = await openHexTab(wb, file);
  await view.locator('.hx-root[data-complete="true"]').waitFor({ timeout: 20_000 });
  return view;
}

/** Ctrl+F on the bytes, then the pattern typed into the find box. */
async function openFind(view: FrameLocator, pattern: string): Promise<void> {
  await view.locator('.hx-grid').click();
  await view.locator('.hx-grid').press('Control+f');
  await view.locator('.hx-find:not([hidden])').waitFor({ timeout: 10_000 });
  const input = view.locator('.hx-find-input input');
  await input.fill(pattern);
}

const state = (view: FrameLocator, s: string) => view.locator(`.hx-find[data-state="${s}"]`).waitFor({ timeout: 30_000 });

/** The cursor is on `offset`, its bytes drawn; returns the text of the current hit's cells (text column). */
async function atHit(view: FrameLocator, offset: number): Promise<string> {
  await view.locator(`.hx-root[data-cursor="${offset}"]`).waitFor({ timeout: 30_000 });
  await view.locator('.hx-root[data-complete="true"]').waitFor({ timeout: 20_000 });
  return (await view.locator('.hx-txt .hx-fc').allInnerTexts()).join('');
}

describe('hex view: Find (UI)', function () {
  this.timeout(300_000);
  let wb: Workbench;
  let fileHitAt = 0;
  before(async () => {
    wb = await launch();
    const raw = join(wb.workspace, 'guest.raw');
    execFileSync('truncate', ['-s', '64M', raw]);
    execFileSync('sfdisk', ['-q', raw], { input: 'label: gpt\nsize=8M, type=L, name=boot-part\ntype=L, name=data-part\n' });
    const fd = openSync(raw, 'r+');
    for (const at of HITS) writeSync(fd, Buffer.from(NEEDLE), 0, NEEDLE.length, at);
    closeSync(fd);
    qemuImg(['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, join(wb.workspace, 'find.qcow2')]);
    rmSync(raw);
    // 64 GiB, every cluster allocated (the search reads them all): minutes to scan, a few MiB on disk.
    // (Two of them: Quick Open, under load, sometimes picks a recently opened file instead of one opened twice.)
    for (const name of ['big-alloc.qcow2', 'scan-cancel.qcow2'])
      qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'preallocation=metadata', join(wb.workspace, name), '64G']);
    // An ext4 partition (mke2fs -d) in a GPT disk; where the file's byte lies on the disk comes from debugfs.
    const tree = join(wb.workspace, 'tree');
    mkdirSync(join(tree, 'notes'), { recursive: true });
    const secret = Buffer.alloc(12_000, '.');
    secret.write(FILE_NEEDLE, FILE_AT, 'latin1');
    writeFileSync(join(tree, 'notes/secret.txt'), secret);
    writeFileSync(join(tree, 'other.txt'), `${FILE_NEEDLE}\n`);
    const fsImg = makeExt(join(wb.workspace, 'fs.ext4'), tree, 'ext4', 8, ['-b', '4096']);
    const part = makeDisk(join(wb.workspace, 'fsdisk.raw'), 'gpt', [fsImg])[0];
    const block = Number(debugfs(fsImg, `bmap /notes/secret.txt ${Math.floor(FILE_AT / 4096)}`).trim());
    fileHitAt = part.start + block * 4096 + (FILE_AT % 4096);
    qemuImg(['convert', '-q', '-f', 'raw', '-O', 'qcow2', join(wb.workspace, 'fsdisk.raw'), join(wb.workspace, 'guestfile.qcow2')]);
    for (const f of ['fsdisk.raw', 'fs.ext4']) rmSync(join(wb.workspace, f));
    rmSync(tree, { recursive: true });
    // 4 TiB, data only in its first and last 64 KiB: the search skips the holes between.
    const sparse = join(wb.workspace, 'sparse4t.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', sparse, '4T']);
    qemuIo(sparse, ['write -P 0x61 0 64k', `write -P 0x7e ${4 * 2 ** 40 - 65536} 65536`]);
  });
  after(async () => wb?.close());
  afterEach(async () => closeAllEditors(wb));

  it('Ctrl+F finds a planted string and selects it; F3 and Shift+F3 move between hits, round the end', async () => {
    const view = await openHex(wb, 'find.qcow2');
    await openFind(view, NEEDLE);
    await wb.screenshot('hex-find-open');
    await view.locator('.hx-find-input input').press('Enter');
    assert.equal(await atHit(view, HITS[0]), NEEDLE, 'the hit is selected');
    await state(view, 'done');
    // The other hit on the screen is highlighted too.
    await view.locator('.hx-txt .hx-fh').first().waitFor({ timeout: 10_000 });
    assert.equal((await view.locator('.hx-txt .hx-fh').allInnerTexts()).join(''), NEEDLE);
    await wb.screenshot('hex-find-first-hit');
    // F3 from the bytes and from the box.
    await view.locator('.hx-grid').focus();
    await view.locator('.hx-grid').press('F3');
    assert.equal(await atHit(view, HITS[1]), NEEDLE, 'F3: the next hit');
    await view.locator('.hx-grid').press('F3');
    assert.equal(await atHit(view, HITS[2]), NEEDLE, 'F3: the hit across the cluster boundary');
    await view.locator('.hx-find-input input').press('F3');
    assert.equal(await atHit(view, HITS[3]), NEEDLE);
    await view.locator('.hx-grid').focus();
    await view.locator('.hx-grid').press('F3');
    assert.equal(await atHit(view, HITS[0]), NEEDLE, 'F3 past the last hit goes round to the first');
    await view.locator('.hx-find-status', { hasText: 'wrapped round' }).waitFor({ timeout: 10_000 });
    await view.locator('.hx-grid').press('Shift+F3');
    assert.equal(await atHit(view, HITS[3]), NEEDLE, 'Shift+F3 before the first goes round to the last');
    await view.locator('.hx-find-input input').press('Shift+Enter');
    assert.equal(await atHit(view, HITS[2]), NEEDLE, 'Shift+Enter: previous');
    // Escape closes the bar and the keyboard is back on the bytes.
    await view.locator('.hx-find-input input').press('Escape');
    await view.locator('.hx-find[hidden]').waitFor({ state: 'attached', timeout: 10_000 });
    assert.equal(await view.locator('.hx-grid').evaluate((g) => g === document.activeElement), true);
    // Ctrl+F again: the bar comes back with the pattern selected, so typing replaces it.
    await view.locator('.hx-grid').press('Control+f');
    await view.locator('.hx-find:not([hidden])').waitFor({ timeout: 10_000 });
    await wb.page.keyboard.type('xyz');
    assert.equal(await view.locator('.hx-find-input input').inputValue(), 'xyz');
  });

  it('hex mode finds the same bytes; match case matters in text mode; a partition scope holds only its own hits', async () => {
    const view = await openHex(wb, 'find.qcow2');
    await openFind(view, Buffer.from(NEEDLE).toString('hex').replace(/(..)/g, '$1 ').trim());
    const mode = view.locator('.hx-find vscode-single-select').first();
    await mode.click();
    await mode.locator('li[role="option"]', { hasText: 'Hex bytes' }).click();
    await view.locator('.hx-find-input input').press('Enter');
    assert.equal(await atHit(view, HITS[0]), NEEDLE);
    // Text, lower case: nothing with match case on, the hit with it off.
    await mode.click();
    await mode.locator('li[role="option"]').first().click(); // Text
    await view.locator('.hx-find-input input').fill(NEEDLE.toLowerCase());
    await view.locator('.hx-find-case').click();
    await view.locator('.hx-find-case[checked]').waitFor({ timeout: 10_000 });
    await view.locator('.hx-grid').focus();
    await view.locator('.hx-grid').press('Control+Home');
    await view.locator('.hx-find-input input').press('Enter');
    await state(view, 'none');
    await view.locator('.hx-find-input input').press('Alt+c'); // match case off again, from the keyboard
    await view.locator('.hx-find-case:not([checked])').waitFor({ timeout: 10_000 });
    await view.locator('.hx-find-input input').press('Enter');
    assert.equal(await atHit(view, HITS[0]), NEEDLE);
    // Scope: partition 2 (from the partition list) holds only the last hit; Find all there lists just it.
    const scope = view.locator('.hx-find vscode-single-select').nth(1);
    await scope.click();
    await scope.locator('li[role="option"]', { hasText: 'data-part' }).click();
    await view.locator('.hx-find-input input').press('Enter');
    assert.equal(await atHit(view, HITS[3]), NEEDLE);
    await view.locator('.hx-find-all').click();
    await state(view, 'done');
    assert.equal(await view.locator('.hx-find-hit').count(), 1);
  });

  it('Find all lists the hits with LBA and partition; a click or Enter on one jumps there', async () => {
    const view = await openHex(wb, 'find.qcow2');
    await openFind(view, NEEDLE);
    await view.locator('.hx-find-all').click();
    await state(view, 'done');
    const rows = view.locator('.hx-find-hit');
    assert.equal(await rows.count(), 4);
    const texts = await rows.allInnerTexts();
    assert.match(texts[0], new RegExp(`0x${HITS[0].toString(16)}\\s+LBA ${Math.floor(HITS[0] / 512)}\\s+p1 boot-part\\s+.*NEEDLE-Q2I`));
    assert.match(texts[3], new RegExp(`0x${HITS[3].toString(16)}\\s+LBA ${Math.floor(HITS[3] / 512)}\\s+p2 data-part`));
    assert.match(await view.locator('.hx-find-summary').innerText(), /4 results/);
    await wb.screenshot('hex-find-all');
    await rows.nth(3).click();
    assert.equal(await atHit(view, HITS[3]), NEEDLE, 'click on the last row');
    // Keyboard: into the list, Up, Enter.
    await rows.nth(3).focus();
    await rows.nth(3).press('ArrowUp');
    await view.locator('.hx-find-hit:focus').press('Enter');
    assert.equal(await atHit(view, HITS[2]), NEEDLE, 'Enter on the third row');
    // With the whole list known, F3 moves through it without asking the host.
    await view.locator('.hx-grid').press('F3');
    assert.equal(await atHit(view, HITS[3]), NEEDLE);
    await view.locator('.hx-find-status', { hasText: '4 of 4' }).waitFor({ timeout: 10_000 });
    await view.locator('.hx-find-input input').press('Escape');
    // The map marks the cells holding hits (the first two share one at this size).
    await view.locator('vscode-tab-header[data-tab="map"]').click();
    await view.locator('canvas.map-canvas[data-ready="true"]').waitFor({ timeout: 30_000 });
    await view.locator('.legend', { hasText: 'find hit' }).waitFor({ timeout: 10_000 });
    const cells = Number(await view.locator('canvas.map-canvas').getAttribute('data-hit-cells'));
    assert.ok(cells >= 3 && cells <= 4, `hit cells on the map: ${cells}`);
    await wb.screenshot('map-find-hits');
  });

  it('a guest-file scope searches one file of an ext4 partition and lands on the disk offset debugfs gives', async () => {
    const view = await openHex(wb, 'guestfile.qcow2');
    await openFind(view, FILE_NEEDLE);
    const scope = view.locator('.hx-find vscode-single-select').nth(1);
    await scope.click();
    await scope.locator('li[role="option"]', { hasText: 'File in partition 1 (ext4)' }).click();
    const path = view.locator('.hx-find-path input');
    await path.waitFor({ state: 'visible', timeout: 10_000 });
    // A directory is refused with one line, from the keyboard (Enter in the path field).
    await path.fill('/notes');
    await path.press('Enter');
    await state(view, 'error');
    assert.match(await view.locator('.hx-find-status').innerText(), /partition 1: \/notes is a directory, not a file/);
    await path.fill('/notes/secret.txt');
    await path.press('Enter');
    assert.equal(await atHit(view, fileHitAt), FILE_NEEDLE, 'the hit is selected at its place on the disk');
    await state(view, 'done');
    assert.equal(await view.locator('.hx-find-hit').count(), 1, 'only the hit in that file (not the one in /other.txt)');
    assert.match((await view.locator('.hx-find-hit').first().getAttribute('title')) ?? '', new RegExp(`offset 0x${FILE_AT.toString(16)} in the file`));
    await wb.screenshot('hex-find-guest-file');
    // N:/path names the volume itself; a missing file is one line too.
    await path.fill('1:/notes/nope.txt');
    await path.press('Enter');
    await state(view, 'error');
    assert.match(await view.locator('.hx-find-status').innerText(), /partition 1: .*nope\.txt.*no such file/);
  });

  it('Find all stops at 10,000 hits and says so', async () => {
    const view = await openHex(wb, 'big-alloc.qcow2');
    await openFind(view, '00 00');
    const mode = view.locator('.hx-find vscode-single-select').first();
    await mode.click();
    await mode.locator('li[role="option"]', { hasText: 'Hex bytes' }).click();
    await view.locator('.hx-find-all').click();
    await state(view, 'limit');
    assert.equal(await view.locator('.hx-find-hit').count(), 10_000);
    console.log(`      hex find: 10,000 hits found and listed, host search ${await view.locator('.hx-find').getAttribute('data-elapsed-ms')} ms`);
    assert.match(await view.locator('.hx-find-summary').innerText(), /10[,.]?000 results: stopped at the limit of 10[,.]?000, there may be more/);
    await wb.screenshot('hex-find-limit');
    await view.locator('.hx-find-hit').nth(9_999).click();
    await atHit(view, 9_999);
  });

  it('finds the bytes at the end of a 4 TiB sparse image, skipping the holes', async () => {
    const view = await openHex(wb, 'sparse4t.qcow2');
    await openFind(view, '~~~~~~~~');
    await view.locator('.hx-find-input input').press('Enter');
    await atHit(view, 4 * 2 ** 40 - 65536);
    await state(view, 'done');
    console.log(
      `      hex find: first hit at the end of a 4 TiB sparse image, host search ${await view.locator('.hx-find').getAttribute('data-elapsed-ms')} ms`,
    );
    await wb.screenshot('hex-find-4t');
  });

  it('cancel stops a whole-disk search of a 64 GiB allocated image, fast', async () => {
    const view = await openHex(wb, 'scan-cancel.qcow2');
    await openFind(view, 'absent-needle');
    await view.locator('.hx-find-input input').press('Enter');
    await state(view, 'searching');
    const cancel = view.locator('.hx-find-cancel');
    await cancel.waitFor({ state: 'visible', timeout: 10_000 });
    // The view and the host stay responsive while the host scans: the last page of the disk is fetched and drawn.
    await view.locator('.hx-grid').focus();
    await view.locator('.hx-grid').press('Control+End');
    await view.locator(`.hx-root[data-cursor="${64 * 2 ** 30 - 1}"][data-complete="true"]`).waitFor({ timeout: 10_000 });
    assert.equal(await view.locator('.hx-find').getAttribute('data-state'), 'searching', 'still searching');
    await wb.page.waitForTimeout(500); // let it scan a while
    await wb.screenshot('hex-find-searching');
    // Several tries: the view's own time (the click to the frame showing "cancelled") and the round trip to the
    // host's answer; medians, since the machine's load varies.
    const viewMs: number[] = [];
    const hostMs: number[] = [];
    const clickMs: number[] = [];
    for (let i = 0; i < 5; i++) {
      if (i > 0) {
        await view.locator('.hx-find-input input').press('Enter');
        await state(view, 'searching');
        await cancel.waitFor({ state: 'visible', timeout: 10_000 });
        await wb.page.waitForTimeout(300);
      }
      const t0 = Date.now();
      await cancel.click();
      await state(view, 'cancelled');
      clickMs.push(Date.now() - t0);
      assert.equal(await view.locator('.hx-find-progress').isVisible(), false, 'progress gone');
      assert.match(await view.locator('.hx-find-status').innerText(), /cancelled/i);
      await view.locator('.hx-find[data-cancel-ms][data-cancel-view-ms]').waitFor({ timeout: 10_000 });
      viewMs.push(Number(await view.locator('.hx-find').getAttribute('data-cancel-view-ms')));
      hostMs.push(Number(await view.locator('.hx-find').getAttribute('data-cancel-ms')));
      await view.locator('.hx-find').evaluate((e) => delete (e as HTMLElement).dataset.cancelViewMs);
    }
    const median = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
    console.log(
      `      hex find: cancel of a whole-disk scan, median of ${viewMs.length}: ${median(viewMs)} ms to the view showing it ` +
        `(${viewMs.join(', ')}), ${median(hostMs)} ms to the host's answer (${hostMs.join(', ')}), ${median(clickMs)} ms incl. Playwright`,
    );
    assert.ok(median(viewMs) < 1000, `the view took ${median(viewMs)} ms to show the cancel`);
    assert.ok(median(hostMs) < 5000, `the host answered after ${median(hostMs)} ms`);
    await wb.screenshot('hex-find-cancelled');
  });
});
