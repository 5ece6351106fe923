/** Proves the Playwright harness: a qemu-img qcow2 opens from Ctrl+P in the real workbench, with a screenshot. */
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { qemuImg } from '../../helpers/qemu';
import { launch, type Workbench } from './harness';

const declaresEditor = (JSON.parse(readFileSync(join(__dirname, '../../../package.json'), 'utf8')).contributes?.customEditors ?? []).some(
  (e: { viewType: string }) => e.viewType === 'qcow2Inspector.editor',
);

describe('harness smoke (UI)', () => {
  let wb: Workbench;
  before(async () => {
    wb = await launch();
    qemuImg(['create', '-q', '-f', 'qcow2', join(wb.workspace, 'smoke.qcow2'), '1G']);
  });
  after(async () => wb?.close());

  it('opens a qcow2 made by qemu-img from Ctrl+P and takes a screenshot', async () => {
    await wb.openFile('smoke.qcow2');
    if (declaresEditor) {
      // Our custom editor is the default for *.qcow2: its webview must render something.
      await wb.webview().locator('body *').first().waitFor({ state: 'visible', timeout: 30_000 });
    }
    const shot = await wb.screenshot('smoke-open-qcow2');
    assert.ok(readFileSync(shot).length > 10_000, 'screenshot is a real image');
  });
});
