/**
 * The package, not the source tree: `npm run package` builds a .vsix (scripts/package.mjs --no-build, from the
 * dist/ the build stage made), `code-server --install-extension` installs it into a fresh extensions folder, and a
 * window with no extension under development opens an image made by qemu-img: the editor shows its overview, and
 * "Check Image Integrity" from the palette finds the corruptions and the leak that qemu-img check finds.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../../../scripts/e2e/code-server';
import { makeCorrupted } from '../../helpers/editor-fixtures';
import { launch, type Workbench } from './harness';

describe('the installed .vsix (UI)', function () {
  this.timeout(240_000);
  const dir = mkdtempSync(join(tmpdir(), 'q2i-vsix-ui-'));
  const vsix = join(dir, 'qcow2-inspector.vsix');
  let wb: Workbench;
  before(async () => {
    const r = spawnSync(process.execPath, [join(REPO, 'scripts/package.mjs'), '--no-build', `--out=${vsix}`], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 120_000,
    });
    assert.equal(r.status, 0, `npm run package failed: ${r.stdout}${r.stderr}`);
    wb = await launch({ vsix });
    makeCorrupted(join(wb.workspace, 'disk.qcow2'));
  });
  after(async () => {
    await wb?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('is installed as a package: a real folder in the extensions dir, and the window is no development host', async () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
    const extensions = join(wb.server.stateDir, 'extensions');
    const installed = readdirSync(extensions).find((d) => d.startsWith(`${pkg.publisher}.${pkg.name}-`));
    assert.ok(installed, `installed in ${extensions}: ${readdirSync(extensions).join(', ')}`);
    const folder = join(extensions, installed);
    assert.ok(lstatSync(folder).isDirectory() && !lstatSync(folder).isSymbolicLink(), 'unpacked from the .vsix, not a link to the repo');
    assert.ok(existsSync(join(folder, 'dist/extension.js')) && !existsSync(join(folder, 'src')), 'the package, without sources');
    assert.doesNotMatch(await wb.page.title(), /Extension Development Host/);
  });

  it('opens an image in the editor, shows its overview, and "Check Image Integrity" reports its findings', async () => {
    await wb.openFile('disk.qcow2');
    const view = wb.webview();
    await view.locator('table.header-fields').waitFor({ state: 'visible', timeout: 60_000 });
    assert.match(await view.locator('table.header-fields').innerText(), /cluster_bits\s+16/);
    assert.match(await view.locator('#fact-virtual-size').innerText(), /64 MiB/);
    await wb.screenshot('vsix-overview');

    await wb.page.locator('.part.sidebar .composite.title').first().click();
    await wb.runCommand('QCOW2: Check Image Integrity');
    // qemu-img check is the oracle for the counts.
    const q = spawnSync('qemu-img', ['check', '--output=json', join(wb.workspace, 'disk.qcow2')], { encoding: 'utf8' });
    const expected = JSON.parse(q.stdout) as { corruptions: number; leaks: number };
    assert.ok(expected.corruptions > 0 && expected.leaks > 0);
    const note = await wb.waitForNotification(/corruption/, 60_000);
    assert.match(note, new RegExp(`${expected.corruptions} corruption\\(s\\), ${expected.leaks} leaked cluster\\(s\\)`));
    await wb.page.keyboard.press('Escape');
    await view.locator('vscode-tab-header[data-tab="integrity"]').click();
    await view.locator('table.findings').waitFor({ timeout: 30_000 });
    assert.equal((await view.locator('#count-corruptions').innerText()).trim(), String(expected.corruptions));
    assert.equal((await view.locator('#count-leaks').innerText()).trim(), String(expected.leaks));
    await wb.screenshot('vsix-integrity');
  });
});
