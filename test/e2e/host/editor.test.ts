/**
 * The custom editor and the QCOW2 commands inside a real extension host: open with vscode.openWith, run the
 * commands with arguments, and compare what they report with qemu-img.
 */
import * as assert from 'node:assert/strict';
import { writeFileSync, renameSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import * as vscode from 'vscode';
import { makeCorrupted, makeThreeLayerChain } from '../../helpers/editor-fixtures';
import { activeCustomViewType, extension, qemuImg, scratch, waitFor } from './util';
import { retryPbkdfBenchmark } from '../../helpers/pbkdf-retry';

interface InspectorApi {
  documentState(path: string): Promise<{ state: string; message?: string; chainError?: string; editable?: boolean }>;
  activeView(): string | undefined;
}

interface Report {
  available: boolean;
  corruptions: number;
  leaks: number;
  checkErrors: number;
  findings: { severity: string; message: string; hostOffset?: number; guestOffset?: number }[];
}

describe('QCOW2 editor and commands (extension host)', function () {
  this.timeout(60_000);
  const tmp = scratch('q2i-host-editor-');
  let api: InspectorApi;
  let chain: { base: string; mid: string; top: string };

  before(async () => {
    api = (await extension().activate()) as InspectorApi;
    chain = makeThreeLayerChain(tmp.dir);
  });
  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
  after(() => tmp.cleanup());

  it('opens an overlay with a three-layer chain in the editable editor, with its chain open', async () => {
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(chain.top), 'qcow2Inspector.editor');
    assert.equal(await waitFor('the custom editor', activeCustomViewType), 'qcow2Inspector.editor');
    const s = await api.documentState(chain.top);
    assert.equal(s.state, 'ok');
    assert.equal(s.chainError, undefined);
    assert.equal(s.editable, vscode.workspace.isTrusted);
  });

  it('opens the read-only variant on any file and says when it is not qcow2', async () => {
    const notQcow2 = tmp.path('notes.img');
    writeFileSync(notQcow2, 'just some text, not a disk image\n');
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(notQcow2), 'qcow2Inspector.readonlyEditor');
    assert.equal(await waitFor('the read-only editor', activeCustomViewType), 'qcow2Inspector.readonlyEditor');
    const s = await api.documentState(notQcow2);
    assert.equal(s.state, 'not-qcow2');
    assert.match(s.message!, /does not start with the qcow2 magic/);
    assert.equal(s.editable, false);

    // A qcow2 with another extension opens fine in it.
    const img = tmp.path('disk.img');
    qemuImg('create', '-q', '-f', 'qcow2', img, '8M');
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(img), 'qcow2Inspector.readonlyEditor');
    assert.equal((await api.documentState(img)).state, 'ok');
  });

  it('keeps the editor usable when the backing file is missing', async () => {
    const dir = tmp.path('');
    qemuImg('create', '-q', '-f', 'qcow2', `${dir}/lost-base.qcow2`, '16M');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', 'lost-base.qcow2', '-F', 'qcow2', `${dir}/lost-top.qcow2`);
    renameSync(`${dir}/lost-base.qcow2`, `${dir}/moved.qcow2`);
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(`${dir}/lost-top.qcow2`), 'qcow2Inspector.editor');
    const s = await api.documentState(`${dir}/lost-top.qcow2`);
    assert.equal(s.state, 'ok');
    assert.match(s.chainError!, /missing/);
  });

  it('"Check Image Integrity" on a file reports the same counts as qemu-img check', async () => {
    const bad = tmp.path('bad.qcow2');
    makeCorrupted(bad);
    // qemu-img check exits 2 on corruption: read its JSON anyway.
    const q = JSON.parse(spawnSync('qemu-img', ['check', '--output=json', bad], { encoding: 'utf8' }).stdout);
    const report = (await vscode.commands.executeCommand('qcow2Inspector.checkIntegrity', vscode.Uri.file(bad))) as Report;
    assert.equal(report.available, true);
    assert.equal(report.corruptions, q.corruptions ?? 0);
    assert.equal(report.leaks, q.leaks ?? 0);
    assert.equal(report.corruptions, 2);
    assert.equal(report.leaks, 1);
    assert.ok(report.findings.some((f) => f.severity === 'leak' && f.hostOffset !== undefined));
  }).timeout(60_000);

  it('"Check Image Integrity" on the active editor reports a clean image as clean', async () => {
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(chain.mid), 'qcow2Inspector.editor');
    await waitFor('the custom editor', activeCustomViewType);
    const report = (await vscode.commands.executeCommand('qcow2Inspector.checkIntegrity')) as Report;
    assert.deepEqual([report.corruptions, report.leaks, report.checkErrors], [0, 0, 0]);
  });

  it('"Show Image Info" returns the header values qemu-img info shows', async () => {
    const info = JSON.parse(qemuImg('info', '--output=json', chain.top));
    const o = (await vscode.commands.executeCommand('qcow2Inspector.showInfo', vscode.Uri.file(chain.top))) as {
      virtualSize: number;
      clusterSize: number;
      fields: { name: string; raw: string; meaning: string }[];
    };
    assert.equal(o.virtualSize, info['virtual-size']);
    assert.equal(o.clusterSize, info['cluster-size']);
    assert.equal(o.fields.find((f) => f.name === 'backing_file_size')!.meaning, `backing file: ${info['backing-filename']}`);
  });

  it('"Go to Offset…" switches the active editor to the hex view', async () => {
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(chain.top), 'qcow2Inspector.editor');
    await waitFor('the custom editor', activeCustomViewType);
    await waitFor('the editor to load', async () => (await api.documentState(chain.top)).state === 'ok');
    const offset = await vscode.commands.executeCommand('qcow2Inspector.goToOffset', 'lba 1');
    assert.equal(offset, 512);
    await waitFor('the hex view', () => api.activeView() === 'hex');
  });

  it('"Create Image…" makes an image that qemu-img accepts, with its backing file', async () => {
    const path = tmp.path('created.qcow2');
    const made = await vscode.commands.executeCommand('qcow2Inspector.createImage', {
      path,
      clusterSize: 65536,
      backingFile: 'base.qcow2',
      backingFormat: 'qcow2',
    });
    if (!vscode.workspace.isTrusted) return;
    assert.equal(made, path);
    const info = JSON.parse(qemuImg('info', '--output=json', path));
    assert.equal(info['virtual-size'], 1 << 30);
    assert.equal(info['backing-filename'], 'base.qcow2');
    qemuImg('check', path);
  });

  it('"Check Image Integrity" reports corruptions at error level, a clean image at information level', async () => {
    const bad = tmp.path('bad-level.qcow2');
    makeCorrupted(bad);
    const w = vscode.window as unknown as Record<string, unknown>;
    const originals = { err: w.showErrorMessage, warn: w.showWarningMessage, info: w.showInformationMessage };
    const shown: Array<[string, string]> = [];
    w.showErrorMessage = async (m: string) => void shown.push(['error', m]);
    w.showWarningMessage = async (m: string) => void shown.push(['warning', m]);
    w.showInformationMessage = async (m: string) => void shown.push(['info', m]);
    try {
      await vscode.commands.executeCommand('qcow2Inspector.checkIntegrity', vscode.Uri.file(bad));
      await vscode.commands.executeCommand('qcow2Inspector.checkIntegrity', vscode.Uri.file(chain.base));
    } finally {
      w.showErrorMessage = originals.err;
      w.showWarningMessage = originals.warn;
      w.showInformationMessage = originals.info;
    }
    assert.deepEqual(
      shown.map(([level]) => level),
      ['error', 'info'],
    );
    assert.match(shown[0][1], /bad-level\.qcow2: problems found: 2 corruption\(s\)/);
  });

  it('"Create Image…" offers a default virtual size (10G) that Enter accepts', async () => {
    const dest = tmp.path('prompted.qcow2');
    const w = vscode.window as unknown as Record<string, unknown>;
    const originals = { save: w.showSaveDialog, pick: w.showQuickPick, input: w.showInputBox };
    const asked: Array<{ title?: string; value?: string }> = [];
    w.showSaveDialog = async () => vscode.Uri.file(dest);
    w.showQuickPick = async (items: string[]) => items[0]; // "No backing file", then "64 KiB (default)"
    w.showInputBox = async (o: { title?: string; value?: string }) => (asked.push(o), o.value); // Enter
    try {
      await vscode.commands.executeCommand('qcow2Inspector.createImage');
    } finally {
      w.showSaveDialog = originals.save;
      w.showQuickPick = originals.pick;
      w.showInputBox = originals.input;
    }
    assert.equal(asked[0]?.title, 'Virtual size');
    assert.equal(asked[0]?.value, '10G');
    const info = JSON.parse(qemuImg('info', '--output=json', dest));
    assert.equal(info['virtual-size'], 10 * 2 ** 30);
    qemuImg('check', dest);
  });

  it('"Show Image Info" on the active editor holding an encrypted (LUKS) image shows its header, without a key', async () => {
    const img = tmp.path('luks.qcow2');
    retryPbkdfBenchmark(
      () =>
        qemuImg(
          'create',
          '-q',
          '-f',
          'qcow2',
          '--object',
          'secret,id=sec0,data=hunter2',
          '-o',
          'encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10',
          img,
          '8M',
        ),
      5,
    );
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(img), 'qcow2Inspector.editor');
    await waitFor('the custom editor', activeCustomViewType);
    // The editor opens to its Overview (not an error page).
    assert.equal(
      (await waitFor('the document', async () => ((await api.documentState(img)).state !== 'closed' ? api.documentState(img) : undefined))).state,
      'ok',
    );
    const o = (await vscode.commands.executeCommand('qcow2Inspector.showInfo')) as
      { virtualSize: number; fields: { name: string; meaning: string }[] } | undefined;
    assert.ok(o, 'Show Image Info returned nothing');
    assert.equal(o.virtualSize, 8 * 2 ** 20);
    assert.equal(o.fields.find((f) => f.name === 'crypt_method')?.meaning, 'LUKS');
  });
});
