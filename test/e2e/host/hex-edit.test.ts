/**
 * Hex view editing in the real extension host: edits become CustomDocumentEditEvents (dirty marker, undo, redo),
 * Save writes them through the engine (qemu-io reads the new bytes, qemu-img check is clean, backing files are
 * untouched), Revert drops them, hot-exit backup restores them, and Save asks first when QEMU holds the image.
 * Edits enter through the extension's test API (`exports.testing`), the same path the webview's hexEdit takes.
 */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as vscode from 'vscode';
import { declaresCustomEditor, EDITOR_VIEW_TYPE, extension, qemuImg, qemuIo, scratch, waitFor } from './util';
import { activeTabDirty, edit, open, sha, testing, token } from './hex-util';

function pattern(byte: number, n: number): number[] {
  return new Array(n).fill(byte);
}

describe('hex view editing (extension host)', function () {
  this.timeout(60_000);
  const tmp = scratch('q2i-hex-host-');

  before(async function () {
    assert.ok(declaresCustomEditor(EDITOR_VIEW_TYPE), `package.json declares no ${EDITOR_VIEW_TYPE}`);
    await extension().activate(); // `exports` throws until the extension is active
    assert.ok(testing(), 'activate() returned no test API');
  });
  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor').then(undefined, () => undefined);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
  after(() => tmp.cleanup());

  it('edit marks the editor dirty; Save writes through the engine; qemu-io reads the bytes; check is clean', async () => {
    const image = tmp.path('save.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', image, '64M');
    qemuIo(image, 'write -P 0x11 0 64k');
    const doc = await open(image);
    edit(doc, 510, [0x55, 0xaa], [0x11, 0x11]);
    edit(doc, 8 * 1024 * 1024, [0xde, 0xad, 0xbe, 0xef], [0, 0, 0, 0]); // unallocated: Save allocates
    assert.equal(doc.journal.isDirty, true);
    await waitFor('the dirty marker', activeTabDirty);
    await vscode.commands.executeCommand('workbench.action.files.save');
    await waitFor('the save to finish', () => !activeTabDirty() && !doc.journal.isDirty);
    qemuIo(image, 'read -P 0x55 510 1', 'read -P 0xaa 511 1', 'read -P 0x11 0 510', 'read -P 0x11 512 65024', 'read -P 0xde 8M 1', 'read -P 0xef 8388611 1');
    qemuImg('check', image); // throws on corruption or leaks (exit code != 0)
  });

  it('undo, redo and revert follow the edit stack', async () => {
    const image = tmp.path('undo.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', image, '16M');
    const before = sha(image);
    const doc = await open(image);
    const view = () => {
      const b = new Uint8Array(4);
      doc.journal.overlay(100, b);
      return [...b];
    };
    edit(doc, 100, [1, 2], [0, 0]);
    edit(doc, 101, [3, 4], [2, 0]);
    assert.deepEqual(view(), [1, 3, 4, 0]);
    await vscode.commands.executeCommand('workbench.action.focusActiveEditorGroup');
    await vscode.commands.executeCommand('undo');
    await waitFor('undo', () => view()[1] === 2);
    assert.deepEqual(view(), [1, 2, 0, 0]);
    await vscode.commands.executeCommand('redo');
    await waitFor('redo', () => view()[2] === 4);
    await vscode.commands.executeCommand('undo');
    await vscode.commands.executeCommand('undo');
    await waitFor('undo to the start', () => !doc.journal.isDirty);
    await waitFor('the dirty marker to clear', () => !activeTabDirty());
    await vscode.commands.executeCommand('redo');
    await waitFor('redo after undo', () => doc.journal.isDirty);
    await vscode.commands.executeCommand('workbench.action.files.revert');
    await waitFor('revert', () => !doc.journal.isDirty && !activeTabDirty());
    assert.deepEqual(view(), [0, 0, 0, 0]);
    assert.equal(sha(image), before, 'nothing was written');
  });

  it('writes over backing data allocate in the top image only; the backing file is never modified', async () => {
    const base = tmp.path('base.qcow2');
    const top = tmp.path('top.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', base, '32M');
    qemuIo(base, 'write -P 0x42 0 1M');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', base, '-F', 'qcow2', top, '32M');
    const baseSum = sha(base);
    const doc = await open(top);
    edit(doc, 4096, pattern(0x99, 16), pattern(0x42, 16));
    await vscode.commands.executeCommand('workbench.action.files.save');
    await waitFor('the save', () => !doc.journal.isDirty && !activeTabDirty());
    assert.equal(sha(base), baseSum);
    qemuIo(top, 'read -P 0x42 0 4096', 'read -P 0x99 4096 16', 'read -P 0x42 4112 1044464');
    const map = JSON.parse(qemuImg('map', '--output=json', top)) as Array<{ start: number; depth: number }>;
    assert.equal(map.find((m) => m.start === 0)?.depth, 0, 'the edited cluster is now in the top image');
    qemuImg('check', top);
    qemuImg('check', base);
  });

  it('hot exit: the journal (not the image) is backed up and restored on reopen', async () => {
    const image = tmp.path('backup.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', image, '16M');
    const sum = sha(image);
    const doc = await open(image);
    edit(doc, 2048, [7, 7, 7], [0, 0, 0]);
    const destination = vscode.Uri.file(tmp.path('hot-exit.backup'));
    const backup = await testing()!.editor.backupCustomDocument(doc, { destination }, token);
    assert.equal(sha(image), sum, 'backup never writes the image');
    const restored = await testing()!.editor.openCustomDocument(vscode.Uri.file(image), { backupId: backup.id }, token);
    assert.equal(restored.journal.isDirty, true);
    assert.deepEqual(restored.journal.pendingRanges(), [[2048, 3]]);
    const b = new Uint8Array(3);
    restored.journal.overlay(2048, b);
    assert.deepEqual([...b], [7, 7, 7]);
    (restored as unknown as vscode.CustomDocument).dispose();
  });

  it('hot exit into a storage folder that does not exist yet (as VS Code hands it out): backup, crash, restore', async () => {
    const image = tmp.path('crash.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', image, '16M');
    const sum = sha(image);
    const doc = await open(image);
    edit(doc, 0x5000, [0xab], [0]);
    // VS Code's destination is <workspaceStorage>/<extension id>/<hash><n>; the extension's folder is created by no one.
    const destination = vscode.Uri.file(tmp.path('workspaceStorage/1234/qcow2-inspector.qcow2-inspector/abc0'));
    const backup = await testing()!.editor.backupCustomDocument(doc, { destination }, token);
    assert.equal(sha(image), sum, 'backup never writes the image');
    // A crash: the window goes away without saving; the next start reopens the document from the backup.
    const restored = await testing()!.editor.openCustomDocument(vscode.Uri.file(image), { backupId: backup.id }, token);
    try {
      assert.equal(restored.journal.isDirty, true, 'restored document is dirty');
      const b = new Uint8Array(2);
      restored.journal.overlay(0x5000, b);
      assert.deepEqual([...b], [0xab, 0], 'the restored bytes are the edited ones');
    } finally {
      (restored as unknown as vscode.CustomDocument).dispose();
    }
    backup.delete();
    await waitFor('the backup to be deleted', () => !existsSync(destination.fsPath));
  });

  it('Save asks first when a running QEMU holds the image (OFD lock), and writes nothing when declined', async () => {
    const image = tmp.path('inuse.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', image, '16M');
    const doc = await open(image);
    edit(doc, 0, [0xab], [0]);
    const holder: ChildProcess = spawn('qemu-io', [image], { stdio: ['pipe', 'ignore', 'ignore'] });
    const original = vscode.window.showWarningMessage;
    const asked: string[] = [];
    let answer: string | undefined;
    (vscode.window as { showWarningMessage: unknown }).showWarningMessage = async (msg: string, opts: { detail?: string }, ...items: string[]) => {
      asked.push(`${msg} ${opts?.detail ?? ''}`);
      return answer === undefined ? undefined : items.find((i) => i === answer);
    };
    try {
      await waitFor('qemu-io to take its locks', () => readFileSync('/proc/locks', 'utf8').includes('OFDLCK'));
      const sum = sha(image);
      await vscode.commands.executeCommand('workbench.action.files.save');
      await waitFor('the question', () => asked.length > 0);
      assert.match(asked[0], /in use by a running QEMU/);
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(sha(image), sum, 'declined: nothing written');
      assert.equal(doc.journal.isDirty, true);
      answer = 'Save Anyway';
      await vscode.commands.executeCommand('workbench.action.files.save');
      await waitFor('the save after confirming', () => !doc.journal.isDirty);
    } finally {
      (vscode.window as { showWarningMessage: unknown }).showWarningMessage = original;
      holder.stdin!.end('quit\n');
      await new Promise((r) => (holder.exitCode !== null ? r(undefined) : holder.once('exit', r)));
    }
    qemuIo(image, 'read -P 0xab 0 1');
  });

  it('file changed on disk: reloads without pending edits, asks with them', async () => {
    const image = tmp.path('changed.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', image, '16M');
    const doc = await open(image);
    let reloads = 0;
    const sub = doc.onDidChangeState((w) => void (w === 'reloaded' && reloads++));
    const original = vscode.window.showWarningMessage;
    const asked: string[] = [];
    (vscode.window as { showWarningMessage: unknown }).showWarningMessage = async (msg: string, _o: unknown, ...items: string[]) => {
      asked.push(msg);
      return items.find((i) => /Discard/.test(i));
    };
    try {
      qemuIo(image, 'write -P 0x31 0 4k'); // someone else writes the image
      await waitFor('a reload', () => reloads > 0);
      assert.deepEqual(asked, []);
      edit(doc, 100, [9], [0x31]);
      qemuIo(image, 'write -P 0x32 0 4k');
      await waitFor('the question', () => asked.length > 0);
      assert.match(asked[0], /changed on disk\. 1 byte\(s\) you typed in the hex view are not saved/);
      await waitFor('the edits to be dropped', () => !doc.journal.isDirty);
      await waitFor('the dirty marker to clear', () => !activeTabDirty());
    } finally {
      sub.dispose();
      (vscode.window as { showWarningMessage: unknown }).showWarningMessage = original;
    }
  });

  it('refuses to save an image marked corrupt: nothing is written, the edits stay pending', async () => {
    const image = tmp.path('corrupt.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', image, '16M');
    const fd = readFileSync(image);
    fd[79] |= 2; // incompatible feature bit 1: corrupt
    require('node:fs').writeFileSync(image, fd);
    const sum = sha(image);
    const doc = await open(image);
    edit(doc, 0, [1], [0]);
    await vscode.commands.executeCommand('workbench.action.files.save');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(doc.journal.isDirty, true);
    assert.equal(sha(image), sum);
  });
});
