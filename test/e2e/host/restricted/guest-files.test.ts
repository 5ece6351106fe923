/**
 * Guest files in Restricted Mode (workspace trust on, the folder not trusted): the qcow2-guest: provider still reads
 * an image in the folder (reading writes nothing), but "Save a Copy to Host" is refused before any dialog, and no
 * file is created or changed.
 */
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { makeDisk, makeExt, makeTree, toQcow2 } from '../../../helpers/guestfs-fixtures';
import { extension, scratch } from '../util';

describe('Guest files in Restricted Mode (extension host)', function () {
  this.timeout(120_000);
  const tmp = scratch('q2i-host-guest-untrusted-');
  let image = '';
  let ws = '';
  const sha = (p: string) => createHash('sha256').update(readFileSync(p)).digest('hex');

  before(async () => {
    await extension().activate();
    assert.equal(vscode.workspace.isTrusted, false, 'this suite runs in Restricted Mode');
    ws = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath ?? '';
    const src = tmp.path('tree');
    mkdirSync(src);
    makeTree(src, { seed: 3, bigBytes: 10_000 });
    const fs = makeExt(tmp.path('e4.img'), src, 'ext4', 8, ['-b', '4096']);
    makeDisk(tmp.path('disk.raw'), 'gpt', [fs]);
    image = toQcow2(tmp.path('disk.raw'), join(ws, 'guest-untrusted.qcow2'), 'plain');
  });
  after(() => {
    rmSync(image, { force: true });
    tmp.cleanup();
  });

  it('reads guest files, and refuses to save a copy to the host', async () => {
    const before = sha(image);
    const listing = readdirSync(ws).sort();
    const uri = (await vscode.commands.executeCommand('qcow2Inspector.openGuestFile', vscode.Uri.file(image), '1:/etc/hosts')) as vscode.Uri;
    assert.ok(uri, 'the guest file did not open');
    assert.equal(Buffer.from(await vscode.workspace.fs.readFile(uri)).toString(), readFileSync(tmp.path('tree/etc/hosts'), 'utf8'));
    const outcome = (await vscode.commands.executeCommand('qcow2Inspector.saveGuestFileCopy', uri)) as { saved?: string; refused?: string };
    assert.equal(outcome.saved, undefined);
    assert.match(outcome.refused ?? '', /trusted workspace/);
    assert.deepEqual(readdirSync(ws).sort(), listing);
    assert.equal(sha(image), before);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });
});
