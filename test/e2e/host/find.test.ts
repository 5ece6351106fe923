/** "QCOW2: Find in Guest Disk" in a real extension host: finds bytes through the backing chain and shows the hit. */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { makeThreeLayerChain } from '../../helpers/editor-fixtures';
import { activeCustomViewType, extension, scratch, waitFor } from './util';

interface InspectorApi {
  documentState(path: string): Promise<{ state: string }>;
  activeView(): string | undefined;
}

describe('Find in Guest Disk (extension host)', function () {
  this.timeout(60_000);
  const tmp = scratch('q2i-host-find-');
  let api: InspectorApi;
  let chain: { base: string; mid: string; top: string };

  before(async () => {
    api = (await extension().activate()) as InspectorApi;
    chain = makeThreeLayerChain(tmp.dir);
  });
  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    tmp.cleanup();
  });

  it('finds bytes in each layer of the chain and shows the hit in the hex view', async () => {
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(chain.top), 'qcow2Inspector.editor');
    await waitFor('the custom editor', activeCustomViewType);
    await waitFor('the editor to load', async () => (await api.documentState(chain.top)).state === 'ok');
    // 0x22 bytes live only in the middle layer at 64 MiB; 0x12 only in the base at 512 MiB.
    assert.equal(await vscode.commands.executeCommand('qcow2Inspector.findInGuestDisk', { mode: 'hex', pattern: '22 22 22 22' }), 64 * 1024 * 1024);
    await waitFor('the hex view', () => api.activeView() === 'hex');
    assert.equal(await vscode.commands.executeCommand('qcow2Inspector.findInGuestDisk', { mode: 'hex', pattern: '12 12' }), 512 * 1024 * 1024);
    assert.equal(await vscode.commands.executeCommand('qcow2Inspector.findInGuestDisk', { mode: 'text', pattern: 'absent pattern' }), undefined);
  });
});
