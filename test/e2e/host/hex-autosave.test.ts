/**
 * Saving, auto-save and conflicts (#20 points 2–3) in the real extension host:
 * - with `files.autoSave` on, hex edits are not written until an explicit save (unless qcow2Inspector.hex.autoSave);
 * - with the opt-in, auto-save writes, but never while the file changed on disk under unsaved edits;
 * - the "changed on disk" question says what is saved and what is not, defaults to keeping, and Discard discards.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { extension, qemuImg, qemuIo, scratch, waitFor } from './util';
import { activeTabDirty, edit, open, sha, sleep, testing, withWarnings } from './hex-util';

async function setConfig(section: string, key: string, value: unknown): Promise<void> {
  await vscode.workspace.getConfiguration(section).update(key, value, vscode.ConfigurationTarget.Global);
}

describe('saving, auto-save and conflicts (extension host)', function () {
  this.timeout(60_000);
  const tmp = scratch('q2i-hex-autosave-');

  before(async () => {
    await extension().activate();
    assert.ok(testing(), 'activate() returned no test API');
    await setConfig('files', 'autoSave', 'afterDelay');
    await setConfig('files', 'autoSaveDelay', 300);
  });
  afterEach(async () => {
    await setConfig('qcow2Inspector', 'hex.autoSave', undefined);
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor').then(undefined, () => undefined);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
  after(async () => {
    await setConfig('files', 'autoSave', undefined);
    await setConfig('files', 'autoSaveDelay', undefined);
    tmp.cleanup();
  });

  it('files.autoSave on: edits stay pending (tab dirty, image untouched) until Ctrl+S', async () => {
    const image = tmp.path('nowrite.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', image, '16M');
    const sum = sha(image);
    const doc = await open(image);
    edit(doc, 0x5000, [0x41, 0x42], [0, 0]);
    await waitFor('the dirty marker', activeTabDirty);
    await sleep(2000); // auto-save's delay is 300 ms: it would have written by now
    assert.equal(sha(image), sum, 'auto-save wrote the edit into the image');
    assert.equal(doc.journal.isDirty, true);
    assert.equal(activeTabDirty(), true);
    await vscode.commands.executeCommand('qcow2Inspector.saveHexEdits'); // what Ctrl+S runs in the QCOW2 editor
    await waitFor('the explicit save', () => !doc.journal.isDirty && !activeTabDirty());
    qemuIo(image, 'read -P 0x41 0x5000 1', 'read -P 0x42 0x5001 1');
  });

  it('qcow2Inspector.hex.autoSave opts in: edits are written after the auto-save delay', async () => {
    await setConfig('qcow2Inspector', 'hex.autoSave', true);
    const image = tmp.path('optin.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', image, '16M');
    const doc = await open(image);
    edit(doc, 0x1030, [0x5a], [0]);
    await waitFor('auto-save to write', () => !doc.journal.isDirty && !activeTabDirty(), 10_000);
    qemuIo(image, 'read -P 0x5a 0x1030 1');
    qemuImg('check', image);
  });

  it('opt-in auto-save never writes while the file changed on disk under unsaved edits', async () => {
    await setConfig('qcow2Inspector', 'hex.autoSave', true);
    const image = tmp.path('conflict.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', image, '16M');
    const doc = await open(image);
    let release: (v: string | undefined) => void = () => undefined;
    await withWarnings(
      () => undefined,
      async (asked) => {
        // Hold the question open (as a person reading it would), then keep the edits.
        (vscode.window as { showWarningMessage: unknown }).showWarningMessage = (msg: string, opts: { detail?: string }, ...items: string[]) => {
          asked.push({ msg, detail: opts?.detail, items });
          return new Promise((r) => (release = r));
        };
        // Make the edit while the auto-save timer cannot fire before the change is noticed: change the file at once.
        edit(doc, 0x2000, [0x77], [0]);
        qemuIo(image, 'write -P 0x33 0 4k');
        await waitFor('the question', () => asked.length > 0);
        const sum = sha(image);
        await sleep(1500);
        assert.equal(sha(image), sum, 'auto-save wrote while the conflict question was open');
        release(asked[0].items.find((i) => /Keep/.test(i)));
        await sleep(1500);
        assert.equal(sha(image), sum, 'auto-save wrote over the changed file after "keep"');
        assert.equal(doc.journal.isDirty, true);
        // An explicit save resolves the conflict: the kept edits go over the new contents.
        await vscode.commands.executeCommand('qcow2Inspector.saveHexEdits');
        await waitFor('the explicit save', () => !doc.journal.isDirty);
        qemuIo(image, 'read -P 0x77 0x2000 1', 'read -P 0x33 0 4k');
      },
    );
  });

  it('changed on disk: the question counts the unsaved bytes only, defaults to keeping, and Discard really discards', async () => {
    const image = tmp.path('discard.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', image, '16M');
    const doc = await open(image);
    // A saved edit, then an unsaved one.
    edit(doc, 0x1030, [0x5a], [0]);
    await vscode.commands.executeCommand('qcow2Inspector.saveHexEdits');
    await waitFor('the save', () => !doc.journal.isDirty && !activeTabDirty());
    edit(doc, 0x1040, [0x61, 0x62], [0, 0]);
    await waitFor('the dirty marker', activeTabDirty);
    await withWarnings(
      (_m, items) => items.find((i) => /Discard/.test(i)),
      async (asked) => {
        qemuIo(image, 'write -P 0x44 0x8000 4k');
        await waitFor('the question', () => asked.length > 0);
        const q = asked[0];
        assert.equal(q.modal, true);
        assert.match(q.msg, /changed on disk\. 2 byte\(s\) you typed in the hex view are not saved/);
        assert.match(q.detail ?? '', /saved earlier are in the file/);
        assert.match(q.items[0], /Keep/, 'the first (default) button keeps the edits');
        await waitFor('the edits to be discarded', () => !doc.journal.isDirty);
        await waitFor('the dirty marker to clear (VS Code reverted too)', () => !activeTabDirty());
      },
    );
    // Discarded means: not on disk, not pending, not written later by anything.
    await sleep(1000);
    qemuIo(image, 'read -P 0x5a 0x1030 1', 'read -P 0 0x1040 2', 'read -P 0x44 0x8000 4k');
    assert.equal(activeTabDirty(), false);
  });

  it('changed on disk with only saved edits: no question, the view reloads', async () => {
    const image = tmp.path('saved-only.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', image, '16M');
    const doc = await open(image);
    edit(doc, 0x1030, [0x5a], [0]);
    await vscode.commands.executeCommand('qcow2Inspector.saveHexEdits');
    await waitFor('the save', () => !doc.journal.isDirty && !activeTabDirty());
    let reloads = 0;
    const sub = doc.onDidChangeState((w) => void (w === 'reloaded' && reloads++));
    try {
      await withWarnings(
        () => undefined,
        async (asked) => {
          qemuIo(image, 'write -P 0x44 0x8000 4k');
          await waitFor('a reload', () => reloads > 0);
          assert.deepEqual(asked, [], 'no question about edits that are already saved');
        },
      );
    } finally {
      sub.dispose();
    }
    qemuIo(image, 'read -P 0x5a 0x1030 1');
  });
});
