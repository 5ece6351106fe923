/**
 * Encrypted images in the real extension host (issue #17): a LUKS image made by qemu-img opens on its overview at
 * once, locked; "Unlock…" asks in a password input box (a wrong passphrase: the one-line error, and the box again),
 * offers to remember the passphrase in the real SecretStorage of code-server; the next open unlocks by itself;
 * "Forget Remembered Passphrase" drops it. Unlocked, reads are the plaintext qemu-io wrote and a hex edit saves
 * encrypted (qemu-io reads it back). No message posted to a webview carries the passphrase.
 */
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { retryPbkdfBenchmark } from '../../helpers/pbkdf-retry';
import type { HostMessage } from '../../../src/shared/protocol';
import { declaresCustomEditor, EDITOR_VIEW_TYPE, extension, qemuImg, scratch, waitFor } from './util';
import { activeTabDirty, edit, open, testing } from './hex-util';
import { execFileSync } from 'node:child_process';

const PASSPHRASE = 'tr0ub4dor&3 luks';
const secret = ['--object', `secret,id=sec0,data=${PASSPHRASE}`];
const opts = (p: string) => `driver=qcow2,file.filename=${p},encrypt.key-secret=sec0`;
const qemuIoLuks = (p: string, ...cmds: string[]) =>
  execFileSync('qemu-io', [...secret, '--image-opts', ...cmds.flatMap((c) => ['-c', c]), opts(p)], { encoding: 'utf8' });

interface UnlockTesting {
  onPost(listener: (msg: HostMessage) => void): vscode.Disposable;
  isPassphraseRemembered(path: string): Promise<boolean>;
  document(path: string): { device(): Promise<{ ok: boolean; locked?: boolean; dev: { readAt(b: Uint8Array, o: number): Promise<unknown> } }> } | undefined;
}
const api = () => testing() as unknown as UnlockTesting;

/** Replaces showInputBox and showInformationMessage while `fn` runs: scripted answers, recorded questions. */
async function withPrompts<T>(
  answers: Array<string | undefined>,
  remember: boolean,
  fn: (asked: Array<vscode.InputBoxOptions | undefined>) => Promise<T>,
): Promise<T> {
  const w = vscode.window as unknown as Record<string, unknown>;
  const [input, info] = [w.showInputBox, w.showInformationMessage];
  const asked: Array<vscode.InputBoxOptions | undefined> = [];
  w.showInputBox = async (o?: vscode.InputBoxOptions) => (asked.push(o), answers.shift());
  w.showInformationMessage = async (msg: string, ...items: string[]) => (/secret storage/.test(msg) ? (remember ? items[0] : items[1]) : undefined);
  try {
    return await fn(asked);
  } finally {
    w.showInputBox = input;
    w.showInformationMessage = info;
  }
}

async function read(path: string, offset: number, n: number): Promise<Uint8Array> {
  const s = await api().document(path)!.device();
  assert.ok(s.ok && !s.locked, 'the image is unlocked');
  const b = new Uint8Array(n);
  await s.dev.readAt(b, offset);
  return b;
}

describe('encrypted images: unlock, remember, forget (extension host)', function () {
  this.timeout(120_000);
  const tmp = scratch('q2i-unlock-host-');
  const posted: string[] = [];
  let tap: vscode.Disposable;
  let image: string;

  before(async function () {
    assert.ok(declaresCustomEditor(EDITOR_VIEW_TYPE));
    await extension().activate();
    tap = api().onPost((m) => posted.push(JSON.stringify(m)));
    image = tmp.path('luks.qcow2');
    retryPbkdfBenchmark(() =>
      qemuImg('create', '-q', '-f', 'qcow2', ...secret, '-o', 'encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10', image, '16M'),
    );
    qemuIoLuks(image, 'write -P 0x5c 65536 4096', 'write -P 0x11 1048576 512');
  });
  afterEach(async () => {
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor').then(undefined, () => undefined);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
  after(async () => {
    tap.dispose();
    await vscode.commands.executeCommand('qcow2Inspector.forgetPassphrase', vscode.Uri.file(image)).then(undefined, () => undefined);
    tmp.cleanup();
  });

  it('opens locked on the overview at once, with an Unlock action and no guest reads', async () => {
    await open(image);
    const overview = await waitFor('the overview', () => posted.map((p) => JSON.parse(p) as HostMessage).find((m) => m.type === 'overview'));
    assert.ok(overview.type === 'overview');
    const w = overview.data.warnings.find((x) => x.kind === 'encrypted');
    assert.equal(w?.action, 'unlock', JSON.stringify(overview.data.warnings));
    const s = await api().document(image)!.device();
    assert.ok(s.ok && s.locked);
    await assert.rejects(s.dev.readAt(new Uint8Array(16), 65536), /until it is unlocked/);
  });

  it('Unlock…: a wrong passphrase says so in one line and asks again; the right one decrypts and is remembered', async () => {
    await open(image);
    await withPrompts(['wrong guess', PASSPHRASE], true, async (asked) => {
      const r = await vscode.commands.executeCommand('qcow2Inspector.unlock', vscode.Uri.file(image));
      assert.equal(r, 'unlocked');
      assert.equal(asked.length, 2);
      assert.ok(
        asked.every((o) => o?.password === true),
        'the input box hides what is typed',
      );
      assert.match(asked[1]?.prompt ?? '', /no key slot matches this passphrase/);
      assert.equal((asked[1]?.prompt ?? '').split('\n').length, 1);
    });
    assert.ok((await read(image, 65536, 4096)).every((b) => b === 0x5c));
    assert.ok((await read(image, 1048576, 512)).every((b) => b === 0x11));
    assert.equal(await api().isPassphraseRemembered(image), true);
    await waitFor('the unlocked overview', () => posted.some((p) => p.includes('unlocked in this window')));
    await new Promise((r) => setTimeout(r, 3000));
    const since = posted.slice(posted.map((p) => p.includes('"type":"refresh"')).lastIndexOf(true));
    assert.deepEqual(
      since.filter((p) => p.includes('"type":"error"')),
      [],
      'no read fails once unlocked',
    );
  });

  it('a remembered passphrase unlocks the next open without asking; a hex edit saves encrypted', async () => {
    await waitFor('the document to close', () => !api().document(image));
    await withPrompts([], false, async (asked) => {
      const doc = await open(image);
      assert.ok((await read(image, 65536, 16)).every((b) => b === 0x5c));
      assert.equal(asked.length, 0, 'no passphrase asked');
      edit(doc, 65536, [0xde, 0xad], [0x5c, 0x5c]);
      await waitFor('the dirty marker', activeTabDirty);
      await vscode.commands.executeCommand('workbench.action.files.save');
      await waitFor('the save', () => !activeTabDirty() && !doc.journal.isDirty);
    });
    qemuIoLuks(image, 'read -P 0xde 65536 1', 'read -P 0xad 65537 1', 'read -P 0x5c 65538 4094');
    execFileSync('qemu-img', ['check', ...secret, '--image-opts', opts(image)]);
  });

  it('Forget Remembered Passphrase: the next open is locked again', async () => {
    await open(image);
    await vscode.commands.executeCommand('qcow2Inspector.forgetPassphrase', vscode.Uri.file(image));
    assert.equal(await api().isPassphraseRemembered(image), false);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await waitFor('the document to close', () => !api().document(image));
    await open(image);
    const s = await api().document(image)!.device();
    assert.ok(s.ok && s.locked);
  });

  it('no message posted to a webview carried the passphrase', () => {
    assert.ok(posted.length > 10, `${posted.length} messages seen`);
    const leaks = posted.filter(
      (p) => p.includes(PASSPHRASE) || p.includes(Buffer.from(PASSPHRASE).toString('base64')) || p.includes(Buffer.from(PASSPHRASE).toString('hex')),
    );
    assert.deepEqual(leaks, []);
  });
});
