/**
 * An encrypted image in a real VS Code (code-server + Chromium), issue #17: a LUKS image made by qemu-img with
 * data written by qemu-io opens on its overview, locked; the Overview's "Unlock…" button opens VS Code's password
 * input box; a wrong passphrase shows the error there and asks again; the right one unlocks, and the Hex tab shows
 * the plaintext qemu-io wrote at its offset.
 */
import * as assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { retryPbkdfBenchmark } from '../../helpers/pbkdf-retry';
import { makeDisk, makeExt } from '../../helpers/guestfs-fixtures';
import { createLuksImage, qemuImg, qemuIo } from '../../helpers/qemu';
import { imageOpts, secretObject } from '../../helpers/luks';
import { launch, openFileRobustly, type Workbench } from './harness';

const PASSPHRASE = 'correct horse';

describe('encrypted image: unlock in the editor (UI)', function () {
  this.timeout(240_000);
  let wb: Workbench;
  before(async () => {
    wb = await launch();
    const image = join(wb.workspace, 'secret-disk.qcow2');
    createLuksImage(image, '8M', { passphrase: PASSPHRASE });
    // 'LUKS!' x 4 rows at 0x30000 (plaintext qemu-io wrote through the secret).
    qemuIo(imageOpts(image), ['write -P 0x4c 0x30000 64', 'write -P 0x21 0x30040 64'], [...secretObject(PASSPHRASE), '--image-opts']);
    // A GPT disk with an ext4 file system, converted by qemu-img into a LUKS-encrypted qcow2.
    const tmp = join(wb.workspace, '.fixture');
    mkdirSync(join(tmp, 'tree'), { recursive: true });
    writeFileSync(join(tmp, 'tree/hello-from-luks.txt'), 'sealed and unsealed\n');
    const [fs] = [makeExt(join(tmp, 'root.img'), join(tmp, 'tree'), 'ext4', 8)];
    makeDisk(join(tmp, 'disk.raw'), 'gpt', [fs]);
    retryPbkdfBenchmark(() =>
      qemuImg([
        'convert',
        ...secretObject(PASSPHRASE),
        '-O',
        'qcow2',
        '-o',
        'encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10',
        join(tmp, 'disk.raw'),
        join(wb.workspace, 'secret-files.qcow2'),
      ]),
    );
  });
  after(async () => wb?.close());

  it('Unlock… asks for the passphrase (password box, retry on a wrong one); the Hex tab shows the plaintext', async () => {
    await openFileRobustly(wb, 'secret-disk.qcow2');
    const view = wb.webview();
    const unlock = view.locator('.warning-encrypted vscode-button.unlock');
    await unlock.waitFor({ state: 'visible', timeout: 30_000 });
    assert.match(await view.locator('.warning-encrypted').innerText(), /encrypted \(LUKS\)/);
    await wb.screenshot('unlock-locked-overview');

    await unlock.click();
    const box = wb.page.locator('.quick-input-widget input[type="password"]');
    await box.waitFor({ state: 'visible', timeout: 30_000 });
    await box.fill('not the passphrase');
    await wb.page.keyboard.press('Enter');
    // The box comes back, saying why.
    await wb.page.locator('.quick-input-widget', { hasText: 'no key slot matches this passphrase' }).waitFor({ timeout: 60_000 });
    await box.waitFor({ state: 'visible', timeout: 30_000 });
    await wb.screenshot('unlock-wrong-passphrase');
    await box.fill(PASSPHRASE);
    await wb.page.keyboard.press('Enter');

    // Unlocked: the overview says so; then the offer to remember it (declined here).
    await view.locator('.warning-encrypted', { hasText: 'unlocked in this window' }).waitFor({ timeout: 60_000 });
    await wb.screenshot('unlock-unlocked-overview');
    assert.match(await wb.waitForNotification('secret storage'), /Remember the passphrase of .*secret-disk\.qcow2/);
    await wb.page.locator('.notifications-center .monaco-button', { hasText: 'Not Now' }).first().click({ timeout: 30_000 });

    await view.locator('vscode-tab-header[data-tab="hex"]').click({ timeout: 30_000 });
    await view.locator('.hx-root .hx-rows > .hx-row').first().waitFor({ state: 'visible', timeout: 30_000 });
    await view.locator('.hx-grid').click();
    await view.locator('.hx-grid').press('Control+g');
    await wb.page.keyboard.type('0x30000');
    await wb.page.keyboard.press('Enter');
    await view.locator(`.hx-root[data-cursor="${0x30000}"]`).waitFor({ timeout: 30_000 });
    await view.locator('.hx-root[data-complete="true"]').waitFor({ timeout: 30_000 });
    const rows = await view.locator('.hx-rows > .hx-row:visible').allInnerTexts();
    const at = rows.findIndex((r) => /^0*30000\s/.test(r));
    assert.ok(at >= 0, rows.join('\n'));
    assert.match(rows[at], /^0*30000\s+(4c ){15}4c\s+L{16}/);
    assert.match(rows[at + 4], /^0*30040\s+(21 ){15}21\s+!{16}/);
    // No stale "cannot be read" error from before the unlock.
    const status = view.locator('.status-line');
    assert.ok(await status.isHidden(), `status line: ${await status.innerText()}`);
    await wb.screenshot('unlock-hex-plaintext');
  });

  it('the Files tab of an unlocked LUKS image lists its ext4 files', async () => {
    await openFileRobustly(wb, 'secret-files.qcow2');
    const view = wb.webview();
    await view.locator('.warning-encrypted vscode-button.unlock').click({ timeout: 30_000 });
    const box = wb.page.locator('.quick-input-widget input[type="password"]');
    await box.waitFor({ state: 'visible', timeout: 30_000 });
    await box.fill(PASSPHRASE);
    await wb.page.keyboard.press('Enter');
    await view.locator('.warning-encrypted', { hasText: 'unlocked in this window' }).waitFor({ timeout: 60_000 });
    await view.locator('vscode-tab-header[data-tab="files"]').click({ timeout: 30_000 });
    await view.locator('vscode-tree-item[data-guest-path="/hello-from-luks.txt"]').waitFor({ state: 'visible', timeout: 60_000 });
    await wb.screenshot('unlock-files');
  });
});
