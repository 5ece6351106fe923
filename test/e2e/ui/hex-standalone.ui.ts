/**
 * The hex view's interactions, on the real view in Chromium with the real engine answering its page requests
 * (bench/hex-harness.ts, no VS Code around it, so each check is quick and exact): keyboard and mouse
 * navigation, selection and copy, layout options, the data inspector, replace-only typing (and its refusal in
 * a read-only editor), escaping of text from the image, and bounded memory while scrolling a 4 TiB disk.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { closeHexBrowser, goToAndWait, heapMiB, launchHexHarness, type HexHarness } from '../../../bench/hex-harness';
import { qemuImg, qemuIo, scratchDir } from '../../helpers/qemu';
import { SCREENSHOTS } from './harness';

const TiB = 2 ** 40;

const data = (page: Page) => page.evaluate('({ ...document.querySelector(".hx-root").dataset })') as Promise<Record<string, string>>;
const settled = (page: Page) => page.locator('.hx-root[data-complete="true"]').waitFor({ timeout: 10_000 });
const cursorIs = (page: Page, off: number) => page.locator(`.hx-root[data-cursor="${off}"]`).waitFor({ timeout: 5_000 });

describe('hex view in Chromium (standalone)', function () {
  this.timeout(120_000);
  const s = scratchDir('h6-ui-');
  let small: string;
  let big: string;
  let h: HexHarness | undefined;

  before(() => {
    // 1 MiB guest disk: bytes 0..255 repeating in the first 4 KiB, then an MBR-less GPT with a hostile name.
    const raw = s.path('small.raw');
    const buf = Buffer.alloc(8 << 20);
    for (let i = 0; i < 4096; i++) buf[i] = i & 0xff;
    writeFileSync(raw, buf);
    execFileSync('sfdisk', ['-q', raw], { input: 'label: gpt\nsize=2M, type=L, name="<img src=x onerror=alert(1)>"\n' });
    // sfdisk wrote the protective MBR and GPT over sectors 0-33: put the counting bytes back at 64 KiB.
    small = s.path('small.qcow2');
    qemuImg(['convert', '-q', '-f', 'raw', '-O', 'qcow2', raw, small]);
    qemuIo(small, ['write -P 0x41 65536 16']);
    big = s.path('big.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', big, '4T']);
    qemuIo(big, ['write -P 0x62 0 64k', `write -P 0x65 ${4 * TiB - 4096} 4096`]);
  });
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });
  after(async () => {
    await closeHexBrowser();
    s.cleanup();
  });

  it('navigates with the keyboard and the mouse', async () => {
    h = await launchHexHarness(small);
    const { page } = h;
    await settled(page);
    const grid = page.locator('.hx-grid');
    await grid.focus();
    await grid.press('ArrowRight');
    await grid.press('ArrowDown');
    await cursorIs(page, 17);
    await grid.press('End');
    await cursorIs(page, 31);
    await grid.press('Home');
    await cursorIs(page, 16);
    const rows = Number(await page.evaluate('document.querySelectorAll(".hx-rows > .hx-row").length'));
    await grid.press('PageDown');
    await cursorIs(page, 16 + rows * 16);
    await grid.press('Control+End');
    await cursorIs(page, (8 << 20) - 1);
    await grid.press('Control+Home');
    await cursorIs(page, 0);
    // Ctrl+G focuses the go-to box; "lba 128" goes to 64 KiB.
    await grid.press('Control+g');
    await page.keyboard.type('lba 128');
    await page.keyboard.press('Enter');
    await cursorIs(page, 65536);
    await settled(page);
    assert.equal(await page.locator('#hx-live').textContent(), 'Offset 0x10000, LBA 128, byte 0x41'); // for screen readers
    // Click the 6th byte of the 3rd row in the hex column, then the 2nd character of the text column.
    const row = page.locator('.hx-rows > .hx-row').nth(2);
    const rowOffset = Number((await data(page)).topOffset) + 2 * 16;
    const hex = (await row.locator('.hx-hex').boundingBox())!;
    const cw = hex.width / (16 * 3 - 1);
    await page.mouse.click(hex.x + cw * (5 * 3 + 1), hex.y + hex.height / 2);
    await cursorIs(page, rowOffset + 5);
    const txt = (await row.locator('.hx-txt').boundingBox())!;
    await page.mouse.click(txt.x + cw * 1.5, txt.y + txt.height / 2);
    await cursorIs(page, rowOffset + 1);
    // A bad go-to says why.
    await page.locator('.hx-goto').fill('nonsense');
    await page.locator('.hx-goto').press('Enter');
    assert.match(await page.locator('.hx-status').innerText(), /Not an offset: nonsense/);
  });

  it('selects and copies as hex or text; inspects the bytes at the cursor', async () => {
    h = await launchHexHarness(small);
    const { page } = h;
    await goToAndWait(page, 65536 + 14);
    const grid = page.locator('.hx-grid');
    await grid.focus();
    for (let i = 0; i < 3; i++) await grid.press('Shift+ArrowRight');
    await page.locator('button', { hasText: 'Copy hex' }).click();
    await page.waitForFunction('window.lastCopied !== undefined');
    // Bytes 14..17 of 64 KiB: 0x41 0x41 (end of the written 16) then the raw disk's zeros, across a row break.
    assert.equal(await page.evaluate('window.lastCopied'), '41 41\n00 00');
    await page.locator('button', { hasText: 'Copy text' }).click();
    await page.waitForFunction('window.lastCopied === "AA.."');
    // Inspector at 64 KiB: 0x41 repeated.
    await goToAndWait(page, 65536);
    const inspector = await page.locator('.hx-ins').innerText();
    assert.match(inspector, /u16\s+16705/);
    assert.match(inspector, /u32\s+1094795585/);
    assert.match(inspector, /binary\s+01000001/);
    await page.locator('.hx-side select').selectOption('be');
    assert.match(await page.locator('.hx-ins').innerText(), /u16\s+16705/); // symmetric, still the same
  });

  it('lays rows out with 32 bytes, groups of 4 and LBA offsets', async () => {
    h = await launchHexHarness(small);
    const { page } = h;
    await settled(page);
    await page.locator('label', { hasText: 'Bytes/row' }).locator('select').selectOption('32');
    await page.locator('label', { hasText: 'Group' }).locator('select').selectOption('4');
    await page.locator('label', { hasText: 'Offsets' }).locator('select').selectOption('lba');
    await goToAndWait(page, 65536);
    const line = await page.locator('.hx-rows > .hx-row').filter({ hasText: '41414141' }).first().innerText();
    assert.match(line, /^\s*128\+000\s+41414141 41414141 41414141 41414141 00000000 00000000 00000000 00000000\s+A{16}\.{16}/);
  });

  it('shows text from the image as text (a hostile GPT partition name)', async () => {
    h = await launchHexHarness(small);
    const { page } = h;
    const part = page.locator('.hx-parts tbody tr').first();
    await part.waitFor();
    assert.match(await part.innerText(), /<img src=x onerror=alert\(1\)>/);
    assert.equal(await page.locator('img').count(), 0);
    mkdirSync(SCREENSHOTS, { recursive: true });
    await page.screenshot({ path: join(SCREENSHOTS, 'hex-standalone-escaped-name.png') });
  });

  it('types replace-only bytes when editable, and refuses when read-only', async () => {
    h = await launchHexHarness(small, { editable: true });
    await goToAndWait(h.page, 100);
    const grid = h.page.locator('.hx-grid');
    await grid.focus();
    await grid.pressSequentially('c0fe');
    await grid.press('Tab');
    await grid.pressSequentially('Hi');
    await cursorIs(h.page, 104);
    assert.deepEqual(
      h.edits.map((e) => [e.offset, [...e.bytes]]),
      [
        [100, [0xc0]],
        [101, [0xfe]],
        [102, [0x48]],
        [103, [0x69]],
      ],
    );
    // Not a hex digit in the hex column: ignored.
    await grid.press('Tab');
    await grid.press('z');
    assert.equal(h.edits.length, 4);
    await h.close();

    h = await launchHexHarness(small, { editable: false });
    await goToAndWait(h.page, 100);
    await h.page.locator('.hx-grid').focus();
    await h.page.locator('.hx-grid').pressSequentially('ab');
    assert.equal(h.edits.length, 0);
    assert.match(await h.page.locator('.hx-status').innerText(), /read-only/);
  });

  it('keeps memory bounded while scrolling a 4 TiB disk end to end with the scrollbar', async () => {
    h = await launchHexHarness(big);
    const { page } = h;
    await settled(page);
    const before = await heapMiB(page);
    const track = (await page.locator('.hx-scroll').boundingBox())!;
    const thumb = page.locator('.hx-thumb');
    const tb = (await thumb.boundingBox())!;
    await page.mouse.move(tb.x + tb.width / 2, tb.y + tb.height / 2);
    await page.mouse.down();
    for (let i = 1; i <= 100; i++) {
      await page.mouse.move(tb.x + tb.width / 2, tb.y + tb.height / 2 + ((track.height - tb.height) * i) / 100);
      await settled(page);
    }
    await page.mouse.up();
    const d = await data(page);
    assert.equal(
      Number(d.topOffset) + Number(await page.evaluate('document.querySelectorAll(".hx-rows > .hx-row:not([style*=hidden])").length')) * 16,
      4 * TiB,
    );
    assert.match(await page.locator('.hx-rows > .hx-row').last().innerText(), /^3fffffffff0\s+(65 ){15}65\s+e{16}/);
    const after = await heapMiB(page);
    assert.ok(Number(d.peakCachePages) <= 64, `peak cached pages ${d.peakCachePages}`);
    assert.ok(after < before + 8, `heap grew from ${before.toFixed(1)} to ${after.toFixed(1)} MiB`);
    console.log(
      `      scrolled 4 TiB in 100 drags: heap ${before.toFixed(1)} → ${after.toFixed(1)} MiB, peak cached pages ${d.peakCachePages}, ${h.hostReadMs.length} page fetches, slowest host fetch ${Math.max(...h.hostReadMs).toFixed(1)} ms`,
    );
  });
});
