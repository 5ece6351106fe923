/**
 * Issue #16 in the real workbench: a broken backing chain in the Overview (red) and the Integrity tab (above the
 * metadata verdict) and in the Problems panel; "Repair all…" with a copy kept first on an image with corruptions,
 * after which qemu-img check is clean and the copy still has the old problems; the Problems panel follows.
 */
import * as assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { makeCorrupted } from '../../helpers/editor-fixtures';
import { qemuImg } from '../../helpers/qemu';
import { closeAllEditors, launch, type Workbench } from './harness';

const qcheck = (p: string) =>
  JSON.parse(spawnSync('qemu-img', ['check', '--output=json', p], { encoding: 'utf8' }).stdout) as { corruptions?: number; leaks?: number };

async function focusWorkbench(wb: Workbench): Promise<void> {
  await wb.page.locator('.part.sidebar .composite.title').first().click();
}

/** Opens the Problems panel and waits until its text matches. */
async function waitForProblem(wb: Workbench, re: RegExp): Promise<string> {
  const panel = wb.page.locator('.markers-panel');
  if (!(await panel.isVisible())) {
    await focusWorkbench(wb);
    await wb.page.keyboard.press('Control+Shift+M');
  }
  await panel.waitFor({ state: 'visible', timeout: 10_000 });
  const deadline = Date.now() + 20_000;
  for (;;) {
    const text = await panel.innerText();
    if (re.test(text)) return text;
    if (Date.now() > deadline) throw new Error(`Problems panel never matched ${re}: ${text}`);
    await wb.page.waitForTimeout(250);
  }
}

describe('release: broken chains, Repair all, Problems panel (UI)', function () {
  this.timeout(240_000);
  let wb: Workbench;
  before(async () => {
    wb = await launch();
    qemuImg(['create', '-q', '-f', 'qcow2', '-u', '-b', 'gone.qcow2', '-F', 'qcow2', join(wb.workspace, 'orphan.qcow2'), '64M']);
    makeCorrupted(join(wb.workspace, 'broken.qcow2'));
  });
  after(async () => wb?.close());

  it('shows a missing backing file in red in the Overview, above the verdict in the Integrity tab, and in the Problems panel', async () => {
    await wb.openFile('orphan.qcow2');
    const view = wb.webview();
    const glance = view.locator('.chain-glance');
    await glance.locator('.error-text').waitFor({ timeout: 30_000 });
    assert.match(await glance.innerText(), /orphan\.qcow2 \(qcow2\)\s*→\s*gone\.qcow2/);
    await view.locator('vscode-tab-header[data-tab="integrity"]').click();
    const chainError = view.locator('#chain-error');
    await chainError.waitFor({ timeout: 30_000 });
    assert.match(await chainError.innerText(), /Could not open backing file: Could not open '.*gone\.qcow2': No such file or directory/);
    // The image's own metadata verdict is still there, below it.
    assert.match(await view.locator('.verdict.ok').innerText(), /No errors were found on the image/);
    const chainRow = view.locator('.chain-table tr.layer.error');
    await view.locator('vscode-tab-header[data-tab="chain"]').click();
    await chainRow.locator('.locate-backing').waitFor({ timeout: 10_000 });
    await wb.screenshot('release-broken-chain');
    await waitForProblem(wb, /Could not open backing file/);
    await wb.screenshot('release-problems-chain');
    // The finding's link in the Problems panel opens the Integrity tab at it.
    await view.locator('vscode-tab-header[data-tab="overview"]').click();
    await wb.page.locator('.markers-panel a', { hasText: 'backing-chain' }).first().click();
    await view.locator('#chain-error.focused').waitFor({ timeout: 15_000 });
  });

  it('"Locate backing file…" on the missing layer rewrites the header (relative name) and the chain opens', async () => {
    qemuImg(['create', '-q', '-f', 'qcow2', join(wb.workspace, 'moved.qcow2'), '64M']);
    const view = wb.webview();
    await view.locator('vscode-tab-header[data-tab="chain"]').click();
    await view.locator('.chain-table .locate-backing').click();
    // code-server's file dialog is a quick input holding a path.
    const input = wb.page.locator('.quick-input-widget input');
    await input.waitFor({ state: 'visible', timeout: 10_000 });
    // The dialog fills in its starting folder a moment after it shows: replace the path only once that is there.
    await wb.page.waitForFunction(
      () => ((document.querySelector('.quick-input-widget input') as HTMLInputElement | null)?.value ?? '').endsWith('/'),
      undefined,
      { timeout: 10_000 },
    );
    await input.fill(join(wb.workspace, 'moved.qcow2'));
    await wb.page.keyboard.press('Enter');
    const dialog = wb.page.locator('.monaco-dialog-box');
    // Under load the file dialog may still be filling in when Enter lands: press it again while it stays open.
    for (let i = 0; i < 3 && !(await dialog.isVisible()); i++) {
      await dialog.waitFor({ timeout: 5_000 }).catch(() => undefined);
      if (!(await dialog.isVisible()) && (await input.isVisible())) {
        await input.fill(join(wb.workspace, 'moved.qcow2'));
        await wb.page.keyboard.press('Enter');
      }
    }
    await dialog.waitFor({ timeout: 30_000 });
    assert.match(await dialog.innerText(), /moved\.qcow2 \(qcow2\)/);
    await dialog.locator('.monaco-button', { hasText: 'Change Backing File' }).click();
    await view.locator('vscode-tab-header[data-tab="overview"]').click();
    await view.locator('.chain-glance a.glance-layer', { hasText: 'moved.qcow2' }).waitFor({ timeout: 30_000 });
    const info = JSON.parse(qemuImg(['info', '--output=json', join(wb.workspace, 'orphan.qcow2')]).stdout);
    assert.equal(info['backing-filename'], 'moved.qcow2');
    assert.equal(info['backing-filename-format'], 'qcow2');
    await wb.screenshot('release-located-backing');
  });

  it('Repair all… keeps a copy, repairs, re-checks; qemu-img check is clean; the Problems panel empties for it', async () => {
    await closeAllEditors(wb);
    const image = join(wb.workspace, 'broken.qcow2');
    const before = qcheck(image);
    assert.ok((before.corruptions ?? 0) > 0);
    await wb.openFile('broken.qcow2');
    const view = wb.webview();
    await view.locator('table.header-fields').waitFor({ state: 'visible', timeout: 30_000 });
    await view.locator('vscode-tab-header[data-tab="integrity"]').click();
    await view.locator('#count-corruptions', { hasText: String(before.corruptions) }).waitFor({ timeout: 30_000 });
    const problems = await waitForProblem(wb, /broken\.qcow2/);
    assert.match(problems, /refcount|reference/i);
    await view.locator('#repair-all').click();
    const dialog = wb.page.locator('.monaco-dialog-box');
    await dialog.waitFor({ timeout: 10_000 });
    assert.match(await dialog.innerText(), /qemu-img check -r all/);
    await wb.screenshot('release-repair-all-dialog');
    await dialog.locator('.monaco-button', { hasText: 'Keep a Copy and Repair' }).click();
    await view.locator('#count-corruptions', { hasText: '0' }).waitFor({ timeout: 60_000 });
    await view.locator('#count-leaks', { hasText: '0' }).waitFor({ timeout: 10_000 });
    await wb.screenshot('release-repair-all-done');
    const after = qcheck(image);
    assert.equal(after.corruptions ?? 0, 0);
    assert.equal(after.leaks ?? 0, 0);
    const copy = join(wb.workspace, 'broken.before-repair.qcow2');
    assert.ok(existsSync(copy), 'the copy was kept');
    assert.equal(qcheck(copy).corruptions, before.corruptions, 'the copy is the image as it was');
    // The re-check replaced the diagnostics: none left for broken.qcow2.
    await wb.page.waitForFunction(() => !(document.querySelector('.markers-panel')?.textContent ?? '').includes('broken.qcow2'), undefined, {
      timeout: 15_000,
    });
  });
});
