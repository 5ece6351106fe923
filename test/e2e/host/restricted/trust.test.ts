/**
 * Issue #7 end to end: a workspace in Restricted Mode (workspace trust on, the folder not trusted) inside a real
 * VS Code extension host. scripts/e2e/run-host.ts opens this suite in a window where `vscode.workspace.isTrusted`
 * is false. Checked here:
 * - the extension loads and activates (it declares limited untrusted-workspace support);
 * - a backing file outside the workspace folder (absolute name, relative name that climbs out with `..`, or a
 *   symlink inside the folder that points out of it) is not opened: the document says why, and guest reads of
 *   ranges the image leaves to its backing file come back as zeros, not the backing file's bytes;
 * - an external data file outside the folder is not opened either;
 * - a backing file inside the folder (also through a symlink that stays inside) is opened, and reads come from it;
 * - nothing is written: a hex edit through the editor session's hook, Save of edits that got into the journal
 *   anyway, Save As, Repair Leaks, Check Image Integrity and Create Image all leave every file's bytes (sha256)
 *   and mtime as they were, and create no file.
 * Fixtures are made with qemu-img in before(), in the workspace folder and in a scratch folder outside it.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import * as vscode from 'vscode';
import { makeCorrupted } from '../../../helpers/editor-fixtures';
import { activeCustomViewType, EDITOR_VIEW_TYPE, extension, qemuImg, qemuIo, scratch, waitFor } from '../util';

interface DeviceState {
  ok: boolean;
  chainError?: string;
  message?: string;
  dev?: { readAt(buf: Uint8Array, offset: number): Promise<number>; backing?: unknown };
}
interface TestDoc {
  path: string;
  editable: boolean;
  readOnlyReason?: string;
  device(): Promise<DeviceState>;
  journal: { isDirty: boolean; revert(): void };
}
interface Hooks {
  applyEdit(doc: TestDoc, offset: number, before: Uint8Array, after: Uint8Array, label: string): void;
  repairLeaks(doc: TestDoc): Promise<void>;
}
interface InspectorApi {
  testing: {
    document(path: string): TestDoc | undefined;
    editor: {
      /** The hooks every editor session calls for the webview's hexEdit and repairLeaks messages. */
      hooks: Hooks;
      applyEdit(doc: TestDoc, offset: number, before: Uint8Array, after: Uint8Array, label: string): void;
      saveCustomDocumentAs(doc: TestDoc, destination: vscode.Uri, token: vscode.CancellationToken): Promise<void>;
    };
  };
  documentState(path: string): Promise<{ state: string; message?: string; chainError?: string; editable?: boolean }>;
}

const MiB = 1024 * 1024;
const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');
const token = new vscode.CancellationTokenSource().token;

/** sha256 and mtime of every file below `dir` (symlinks followed). */
function snapshot(dir: string, out = new Map<string, string>()): Map<string, string> {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) snapshot(p, out);
    else out.set(p, `${sha(p)} ${statSync(p).mtimeMs}`);
  }
  return out;
}

/** Replaces vscode.window.show{Warning,Error,Information}Message for a test: records them, answers `answer`. */
function captureMessages(answer?: (items: string[]) => string | undefined): { shown: string[]; restore(): void } {
  const w = vscode.window as unknown as Record<string, unknown>;
  const names = ['showWarningMessage', 'showErrorMessage', 'showInformationMessage'];
  const originals = names.map((n) => w[n]);
  const shown: string[] = [];
  for (const n of names) {
    w[n] = async (msg: string, ...rest: unknown[]) => {
      shown.push(msg);
      const items = rest.filter((r): r is string => typeof r === 'string');
      return answer?.(items);
    };
  }
  return { shown, restore: () => names.forEach((n, i) => (w[n] = originals[i])) };
}

describe('untrusted workspace (Restricted Mode, extension host)', function () {
  this.timeout(60_000);
  const outside = scratch('q2i-host-outside-');
  let ws: string;
  let api: InspectorApi;
  let unchanged: Map<string, string>;
  const f: Record<string, string> = {};

  async function open(path: string): Promise<TestDoc> {
    await vscode.commands.executeCommand('vscode.openWith', vscode.Uri.file(path), EDITOR_VIEW_TYPE);
    await waitFor('the QCOW2 editor', () => activeCustomViewType() === EDITOR_VIEW_TYPE);
    return waitFor(`the document of ${basename(path)}`, () => api.testing.document(path));
  }

  async function guestBytes(doc: TestDoc, offset: number, length: number): Promise<Uint8Array> {
    const s = await doc.device();
    assert.ok(s.ok && s.dev, `device of ${doc.path} did not open: ${s.message}`);
    const buf = new Uint8Array(length);
    await s.dev.readAt(buf, offset);
    return buf;
  }

  const only = (buf: Uint8Array, byte: number) => buf.every((b) => b === byte);

  before(async () => {
    ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '';
    assert.ok(ws, 'the window has no workspace folder');
    api = (await extension().activate()) as InspectorApi;
    assert.ok(api?.testing, 'activate() returned no test API');

    // Outside the workspace: a base with 0x42 in its first MiB, and a raw data file.
    f.outsideBase = outside.path('base.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', f.outsideBase, '16M');
    qemuIo(f.outsideBase, 'write -P 0x42 0 1M');
    f.outsideData = outside.path('data.raw');

    // In the workspace: overlays on that base named three ways.
    f.topAbsolute = join(ws, 'top-absolute.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', f.outsideBase, '-F', 'qcow2', f.topAbsolute);
    mkdirSync(join(ws, 'sub'));
    f.topRelative = join(ws, 'sub/top-relative.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', relative(join(ws, 'sub'), f.outsideBase), '-F', 'qcow2', f.topRelative);
    f.link = join(ws, 'linked-base.qcow2');
    symlinkSync(f.outsideBase, f.link);
    f.topSymlink = join(ws, 'top-symlink.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', 'linked-base.qcow2', '-F', 'qcow2', f.topSymlink);
    // External data file outside the workspace.
    f.dataFileImage = join(ws, 'external-data.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-o', `data_file=${f.outsideData},data_file_raw=on`, f.dataFileImage, '8M');

    // In the workspace: a base inside it (0x24) and its overlay.
    mkdirSync(join(ws, 'images'));
    f.insideBase = join(ws, 'images/base.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', f.insideBase, '16M');
    qemuIo(f.insideBase, 'write -P 0x24 0 1M');
    f.topInside = join(ws, 'top-inside.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', 'images/base.qcow2', '-F', 'qcow2', f.topInside);
    symlinkSync('base.qcow2', join(ws, 'images/alias.qcow2')); // a symlink that stays inside
    f.topInsideLink = join(ws, 'top-inside-link.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', '-b', 'images/alias.qcow2', '-F', 'qcow2', f.topInsideLink);

    // For the write attempts: plain data, and an image with one leaked cluster.
    f.plain = join(ws, 'plain.qcow2');
    qemuImg('create', '-q', '-f', 'qcow2', f.plain, '16M');
    qemuIo(f.plain, 'write -P 0x11 0 64k');
    f.leaky = join(ws, 'leaky.qcow2');
    makeCorrupted(f.leaky, false);

    // qemu-io (which ignores trust) reads the base's bytes through each overlay: the fixtures are what we think.
    for (const top of [f.topAbsolute, f.topRelative, f.topSymlink]) qemuIo(top, 'read -P 0x42 0 1M');
    for (const top of [f.topInside, f.topInsideLink]) qemuIo(top, 'read -P 0x24 0 1M');
    unchanged = new Map([...snapshot(ws), ...snapshot(outside.dir)]);
  });
  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor').then(undefined, () => undefined);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
  after(() => outside.cleanup());

  it('runs in Restricted Mode, and the extension still loads and activates', () => {
    assert.equal(vscode.workspace.isTrusted, false, 'the workspace is trusted: the runner did not put it in Restricted Mode');
    assert.equal(extension().isActive, true);
    assert.equal(extension().packageJSON.capabilities?.untrustedWorkspaces?.supported, 'limited');
  });

  for (const [name, key] of [
    ['an absolute name', 'topAbsolute'],
    ['a relative name that climbs out with ..', 'topRelative'],
    ['a symlink inside the workspace that points out of it', 'topSymlink'],
  ] as const) {
    it(`does not open a backing file outside the workspace named by ${name}`, async () => {
      const doc = await open(f[key]);
      const s = await api.documentState(f[key]);
      assert.equal(s.state, 'ok', `the image itself opens (${s.message ?? ''})`);
      assert.match(s.chainError ?? '', /outside the trusted workspace/, 'the document says why the backing file was not opened');
      assert.equal(s.editable, false);
      const dev = (await doc.device()).dev!;
      assert.equal(dev.backing, undefined, 'no backing layer is attached');
      assert.ok(only(await guestBytes(doc, 0, 64 * 1024), 0), "unallocated clusters read as zeros, not the outside base's 0x42");
      assert.ok(only(await guestBytes(doc, MiB - 4096, 4096), 0));
    });
  }

  it('does not open an external data file outside the workspace', async () => {
    await open(f.dataFileImage);
    const s = await api.documentState(f.dataFileImage);
    assert.equal(s.state, 'error');
    assert.match(s.message ?? '', /external data file .* is outside the trusted workspace/);
  });

  for (const [name, key] of [
    ['', 'topInside'],
    [' through a symlink that stays inside', 'topInsideLink'],
  ] as const) {
    it(`opens a backing file inside the workspace${name}, and reads come from it`, async () => {
      const doc = await open(f[key]);
      const s = await api.documentState(f[key]);
      assert.equal(s.state, 'ok');
      assert.equal(s.chainError, undefined);
      assert.equal(s.editable, false, 'read-only all the same: the workspace is not trusted');
      assert.match(doc.readOnlyReason ?? '', /not trusted/);
      assert.ok((await doc.device()).dev!.backing, 'the backing layer is attached');
      assert.ok(only(await guestBytes(doc, 0, 64 * 1024), 0x24), "reads of unallocated clusters come from the base's 0x24");
      assert.ok(only(await guestBytes(doc, MiB - 4096, 4096), 0x24));
      assert.ok(only(await guestBytes(doc, MiB, 4096), 0));
    });
  }

  it("refuses a hex edit from the editor (the hook behind the webview's hexEdit message)", async () => {
    const doc = await open(f.plain);
    assert.equal(doc.editable, false);
    assert.throws(() => api.testing.editor.hooks.applyEdit(doc, 0, Uint8Array.of(0x11), Uint8Array.of(0xee), 'edit'), /not trusted/);
    assert.equal(doc.journal.isDirty, false);
    assert.equal(vscode.window.tabGroups.activeTabGroup.activeTab?.isDirty, false);
  });

  it('refuses to Save edits that reached the journal anyway; the image is unchanged', async () => {
    const doc = await open(f.plain);
    const sum = sha(f.plain);
    const mtime = statSync(f.plain).mtimeMs;
    // Past every gate on purpose: straight into the journal, as if a bug had let an edit through.
    api.testing.editor.applyEdit(doc, 0, Uint8Array.of(0x11, 0x11), Uint8Array.of(0xde, 0xad), 'forced edit');
    assert.equal(doc.journal.isDirty, true);
    await waitFor('the dirty marker', () => vscode.window.tabGroups.activeTabGroup.activeTab?.isDirty);
    const saved = await vscode.commands.executeCommand('workbench.action.files.save').then(
      () => 'resolved',
      (e: Error) => e.message,
    );
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(doc.journal.isDirty, true, `the edits are still pending (save: ${saved})`);
    assert.equal(sha(f.plain), sum, 'the image bytes are unchanged');
    assert.equal(statSync(f.plain).mtimeMs, mtime, 'the image mtime is unchanged');
    qemuIo(f.plain, 'read -P 0x11 0 64k');
  });

  it('refuses Save As, which would write a copy and open its backing chain', async () => {
    const doc = await open(f.topAbsolute);
    const dest = join(ws, 'copy-of-top.qcow2');
    await assert.rejects(api.testing.editor.saveCustomDocumentAs(doc, vscode.Uri.file(dest), token), /not trusted/);
    assert.equal(existsSync(dest), false, 'no copy was written');
  });

  it("refuses Repair Leaks (the hook behind the Integrity view's button), and asks nothing", async () => {
    const doc = await open(f.leaky);
    const sum = sha(f.leaky);
    const mtime = statSync(f.leaky).mtimeMs;
    const m = captureMessages((items) => items.find((i) => /Repair/.test(i))); // would say yes if asked
    try {
      await api.testing.editor.hooks.repairLeaks(doc);
    } finally {
      m.restore();
    }
    assert.equal(m.shown.length, 1, `one message: ${JSON.stringify(m.shown)}`);
    assert.match(m.shown[0], /Cannot repair: .*not trusted/);
    assert.equal(sha(f.leaky), sum);
    assert.equal(statSync(f.leaky).mtimeMs, mtime);
    // qemu-img check exits 3 when it finds leaks: read its JSON anyway.
    const check = spawnSync('qemu-img', ['check', '--output=json', f.leaky], { encoding: 'utf8' });
    assert.equal(JSON.parse(check.stdout).leaks, 1, 'the leak is still there');
  });

  it('"Check Image Integrity" reports the leak and writes nothing', async () => {
    const sum = sha(f.leaky);
    const mtime = statSync(f.leaky).mtimeMs;
    const m = captureMessages();
    let report: { available: boolean; leaks: number; corruptions: number; repaired?: unknown } | undefined;
    try {
      report = await vscode.commands.executeCommand('qcow2Inspector.checkIntegrity', vscode.Uri.file(f.leaky));
    } finally {
      m.restore();
    }
    assert.ok(report?.available, 'the check ran');
    assert.equal(report.leaks, 1);
    assert.equal(report.corruptions, 0);
    assert.equal(report.repaired, undefined);
    assert.equal(sha(f.leaky), sum);
    assert.equal(statSync(f.leaky).mtimeMs, mtime);
  });

  it('"Check Image Integrity" runs on an overlay whose backing file is outside the workspace', async () => {
    const m = captureMessages();
    let report: { available: boolean; corruptions: number; checkErrors: number } | undefined;
    try {
      report = await vscode.commands.executeCommand('qcow2Inspector.checkIntegrity', vscode.Uri.file(f.topAbsolute));
    } finally {
      m.restore();
    }
    // Checking an image's own metadata needs no backing file: the check runs, and finds the overlay clean.
    assert.ok(report?.available, `the check ran: ${JSON.stringify(m.shown)}`);
    assert.equal(report.corruptions, 0);
    assert.equal(report.checkErrors, 0);
  });

  it('refuses "Create Image…", even with its arguments given', async () => {
    const dest = join(ws, 'created.qcow2');
    const m = captureMessages();
    let made: unknown;
    try {
      made = await vscode.commands.executeCommand('qcow2Inspector.createImage', {
        path: dest,
        size: 16 * MiB,
        backingFile: f.outsideBase,
        backingFormat: 'qcow2',
      });
    } finally {
      m.restore();
    }
    assert.equal(made, undefined);
    assert.equal(existsSync(dest), false, 'no image was created');
    assert.match(m.shown.join('\n'), /needs a trusted workspace/);
  });

  it('changed nothing: every file in the workspace and outside it has its bytes and mtime, and no file appeared', () => {
    const now = new Map([...snapshot(ws), ...snapshot(outside.dir)]);
    assert.deepEqual([...now.keys()].sort(), [...unchanged.keys()].sort());
    for (const [p, v] of unchanged) assert.equal(now.get(p), v, `${p} changed`);
  });
});
