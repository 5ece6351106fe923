/**
 * Issue #7 in a real VS Code window in Restricted Mode (code-server with workspace trust on, the folder not
 * trusted): what a person sees, and what a webview that asks anyway gets.
 * - An overlay whose backing file lies outside the workspace: the Overview says the backing chain was not opened
 *   because the file is outside the trusted workspace and that the image is read-only; the Backing chain view
 *   shows that layer as not opened (no link); the Hex view shows zeros where the outside base holds 0x42.
 *   Typing in the Hex view and Ctrl+S change nothing.
 * - Messages forged from inside the webview (hexEdit, repairLeaks, openLayer of the outside layer), sent through
 *   the same channel as the webview's own postMessage, are refused: no dirty editor, no editor on the outside
 *   file, a "Cannot repair" notification, and the images' bytes and mtimes are unchanged.
 * - An overlay whose backing file is inside the workspace shows its whole chain and the base's bytes.
 * The extension-host suite test/e2e/host/restricted/trust.test.ts checks the same rules through the API.
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FrameLocator } from 'playwright-core';
import { makeCorrupted } from '../../helpers/editor-fixtures';
import { qemuImg, qemuIo } from '../../helpers/qemu';
import { closeAllEditors, launch, type Workbench } from './harness';

const fingerprint = (p: string) => `${createHash('sha256').update(readFileSync(p)).digest('hex')} ${statSync(p).mtimeMs}`;

async function tab(view: FrameLocator, name: string): Promise<void> {
  await view.locator(`vscode-tab-header[data-tab="${name}"]`).click();
}

/**
 * Posts `message` to the extension host exactly as the webview's own acquireVsCodeApi().postMessage does. A field
 * `{ bytes: [...] }` becomes a Uint8Array in the webview (playwright passes JSON only), as the hex view sends edits.
 */
async function postFromWebview(wb: Workbench, message: unknown): Promise<void> {
  const frame = await (await wb.page.locator('iframe.webview').first().elementHandle())!.contentFrame();
  assert.ok(frame, 'no webview frame');
  await frame.evaluate((m) => {
    const post = (window as unknown as Record<string, (channel: string, data: unknown) => void>).__vscode_post_message__;
    if (typeof post !== 'function') throw new Error('the webview host frame has no __vscode_post_message__');
    const msg = Object.fromEntries(
      Object.entries(m as Record<string, unknown>).map(([k, v]) => [
        k,
        v && typeof v === 'object' && 'bytes' in v ? new Uint8Array((v as { bytes: number[] }).bytes) : v,
      ]),
    );
    post('onmessage', { message: msg });
  }, message);
}

describe('untrusted workspace, Restricted Mode (UI)', function () {
  this.timeout(180_000);
  let wb: Workbench;
  let outside: string;
  let files: string[];
  let fingerprints: string[];

  before(async () => {
    outside = mkdtempSync(join(tmpdir(), 'q2i-ui-outside-'));
    wb = await launch({ workspaceTrust: 'restricted' });
    const base = join(outside, 'base.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', base, '16M']);
    qemuIo(base, ['write -P 0x42 0 1M']);
    qemuImg(['create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', join(wb.workspace, 'top-outside.qcow2')]);
    mkdirSync(join(wb.workspace, 'images'));
    qemuImg(['create', '-q', '-f', 'qcow2', join(wb.workspace, 'images/base-inside.qcow2'), '16M']);
    qemuIo(join(wb.workspace, 'images/base-inside.qcow2'), ['write -P 0x24 0 1M']);
    qemuImg(['create', '-q', '-f', 'qcow2', '-b', 'images/base-inside.qcow2', '-F', 'qcow2', join(wb.workspace, 'top-inside.qcow2')]);
    makeCorrupted(join(wb.workspace, 'leaky.qcow2'), false);
    files = [base, ...['top-outside.qcow2', 'images/base-inside.qcow2', 'top-inside.qcow2', 'leaky.qcow2'].map((n) => join(wb.workspace, n))];
    fingerprints = files.map(fingerprint);
  });
  after(async () => {
    await wb?.close();
    if (outside) rmSync(outside, { recursive: true, force: true });
  });

  it('shows Restricted Mode, and an outside backing file as not opened: overview, chain and hex view', async () => {
    await wb.page.locator('.statusbar-item', { hasText: 'Restricted Mode' }).first().waitFor({ timeout: 30_000 });
    await wb.openFile('top-outside.qcow2');
    const view = wb.webview();
    await view.locator('table.header-fields').waitFor({ state: 'visible', timeout: 30_000 });
    const warnings = (await view.locator('.warning').allInnerTexts()).join('\n');
    assert.match(warnings, /Backing chain not opened: backing file \S*base\.qcow2 is outside the trusted workspace/);
    assert.match(warnings, /The workspace is not trusted: the image is open read-only/);
    assert.match(await view.locator('vscode-badge', { hasText: 'read-only' }).first().innerText(), /read-only/);
    await wb.screenshot('untrusted-overview');

    await tab(view, 'chain');
    await view.locator('table.chain-table tr.layer').nth(1).waitFor({ timeout: 20_000 });
    const rows = view.locator('table.chain-table tr.layer');
    assert.equal(await rows.count(), 2);
    assert.match(await rows.nth(1).innerText(), /base\.qcow2[\s\S]*not opened: the file is outside the trusted workspace/);
    assert.equal(await rows.nth(1).getAttribute('class'), 'layer error');
    assert.equal(await rows.nth(1).locator('a.link').count(), 0, 'no link to open the outside layer');
    await wb.screenshot('untrusted-chain');

    await tab(view, 'hex');
    await view.locator('.hx-root[data-complete="true"]').waitFor({ timeout: 30_000 });
    const first = await view.locator('.hx-rows > .hx-row').first().innerText();
    assert.match(first, /^0+\s+00 00 00 00/, `zeros, not the outside base's 42: ${first}`);
    // Typing and Ctrl+S: nothing becomes pending, nothing is saved.
    await view.locator('.hx-grid').click();
    await view.locator('.hx-grid').pressSequentially('deadbeef');
    await view.locator('.hx-grid').press('Control+s');
    await wb.page.waitForTimeout(1000);
    assert.equal(await wb.page.locator('.tabs-container [role="tab"][aria-label*="top-outside.qcow2"].dirty').count(), 0, 'the editor is not dirty');
    assert.equal(await view.locator('.hx-rows .hx-edit').count(), 0, 'no pending bytes');
    await wb.screenshot('untrusted-hex');
    assert.deepEqual(files.map(fingerprint), fingerprints);
  });

  it('refuses what a webview asks for anyway: hexEdit, repairLeaks, openLayer of the outside file', async () => {
    // The outside overlay is still open on its Hex tab; its chain has been sent (the chain test above).
    await postFromWebview(wb, { type: 'hexEdit', offset: 0, data: { bytes: [0xde, 0xad, 0xbe, 0xef] }, label: 'forged' });
    await postFromWebview(wb, { type: 'openLayer', depth: 1 });
    await wb.page.waitForTimeout(1500);
    assert.equal(await wb.page.locator('.tabs-container [role="tab"].dirty').count(), 0, 'no editor is dirty');
    const tabs = await wb.page.locator('.tabs-container [role="tab"]').evaluateAll((els) => els.map((e) => e.getAttribute('aria-label') ?? ''));
    assert.ok(!tabs.some((t) => /(^|\W)base\.qcow2/.test(t)), `no editor opened on the outside base: ${JSON.stringify(tabs)}`);

    await closeAllEditors(wb);
    await wb.openFile('leaky.qcow2');
    await wb.webview().locator('table.header-fields').waitFor({ state: 'visible', timeout: 30_000 });
    await postFromWebview(wb, { type: 'repairLeaks' });
    assert.match(await wb.waitForNotification(/Cannot repair/), /Cannot repair: The workspace is not trusted/);
    await wb.page.keyboard.press('Escape');
    assert.deepEqual(files.map(fingerprint), fingerprints, 'no file changed');
  });

  it('refuses Repair all… and Locate backing file… (a header rewrite) in Restricted Mode', async () => {
    await closeAllEditors(wb);
    const orphan = join(wb.workspace, 'orphan.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', '-u', '-b', 'gone.qcow2', '-F', 'qcow2', orphan, '16M']);
    const before = fingerprint(orphan);
    await wb.openFile('orphan.qcow2');
    const view = wb.webview();
    await view.locator('table.header-fields').waitFor({ state: 'visible', timeout: 30_000 });
    await tab(view, 'chain');
    await view.locator('table.chain-table tr.layer.error').waitFor({ timeout: 20_000 });
    await postFromWebview(wb, { type: 'locateBacking', depth: 1 });
    assert.match(await wb.waitForNotification(/trusted workspace/), /Locating a backing file rewrites an image header, which needs a trusted workspace/);
    await wb.page.keyboard.press('Escape');
    await postFromWebview(wb, { type: 'repairAll' });
    assert.match(await wb.waitForNotification(/Cannot repair/), /Cannot repair: The workspace is not trusted/);
    await wb.page.keyboard.press('Escape');
    assert.equal(fingerprint(orphan), before, 'the image did not change');
  });

  it("opens a backing file inside the workspace: the whole chain, and the base's bytes", async () => {
    await closeAllEditors(wb);
    await wb.openFile('top-inside.qcow2');
    const view = wb.webview();
    await view.locator('table.header-fields').waitFor({ state: 'visible', timeout: 30_000 });
    const warnings = (await view.locator('.warning').allInnerTexts()).join('\n');
    assert.doesNotMatch(warnings, /Backing chain not opened/);
    await tab(view, 'chain');
    await view.locator('table.chain-table tr.layer').nth(1).waitFor({ timeout: 20_000 });
    const rows = view.locator('table.chain-table tr.layer');
    assert.equal(await rows.count(), 2);
    assert.equal(await view.locator('table.chain-table tr.layer.error').count(), 0);
    assert.match(await rows.nth(1).innerText(), /base-inside\.qcow2/);
    await tab(view, 'hex');
    await view.locator('.hx-root[data-complete="true"]').waitFor({ timeout: 30_000 });
    assert.match(await view.locator('.hx-rows > .hx-row').first().innerText(), /^0+\s+24 24 24 24/);
    await wb.screenshot('untrusted-inside-chain-hex');
    assert.deepEqual(files.map(fingerprint), fingerprints);
  });
});
