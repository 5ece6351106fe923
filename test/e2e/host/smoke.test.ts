/** Proves the extension-host harness: the extension loads and activates, and a qcow2 opens in our editor. */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { activeCustomViewType, declaresCustomEditor, EDITOR_VIEW_TYPE, extension, qemuImg, scratch, waitFor } from './util';

describe('harness smoke (extension host)', () => {
  const tmp = scratch();
  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    tmp.cleanup();
  });

  it('runs inside VS Code with this repository as the extension under development', async () => {
    const ext = extension();
    assert.equal(ext.packageJSON.name, 'qcow2-inspector');
    await ext.activate();
    assert.equal(ext.isActive, true);
  });

  it(`opens a qemu-img qcow2 with vscode.openWith in ${EDITOR_VIEW_TYPE}`, async function () {
    assert.ok(declaresCustomEditor(EDITOR_VIEW_TYPE), `package.json declares no ${EDITOR_VIEW_TYPE}`);
    const image = tmp.path('smoke.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', image, '64M');
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(image), EDITOR_VIEW_TYPE);
    assert.equal(await waitFor('the custom editor tab', activeCustomViewType), EDITOR_VIEW_TYPE);
  });
});
