/**
 * The qcow2-guest: FileSystemProvider inside a real extension host, over a GPT disk made at test time (an ext4 and
 * an ext2 from `mke2fs -d`, qemu-img convert to qcow2 and as the top of a backing chain): readDirectory, stat and
 * readFile agree with debugfs (and, on a FAT32 in an MBR disk, with mdir and mcopy); writes are refused with
 * NoPermissions; a missing path is FileNotFound; a changed image is read again, and a hex edit saved under an open
 * guest file fires its change event and shows in its editor.
 */
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import * as vscode from 'vscode';
import { makeFat, makeSourceTree, mcopyOut, mdirAll } from '../../helpers/fat-fixtures';
import { debugfs, debugfsDump, debugfsLs, makeDisk, makeExt, makeTree, toQcow2 } from '../../helpers/guestfs-fixtures';
import { extension, qemuIo, scratch, waitFor } from './util';
import { edit, open, testing } from './hex-util';

/** The guest URI of `[N:]/path` in an image, as "Open Guest File…" makes it (it registers the image). */
async function guestRoot(image: string, file = '1:/etc/hosts'): Promise<vscode.Uri> {
  const uri = (await vscode.commands.executeCommand('qcow2Inspector.openGuestFile', vscode.Uri.file(image), file)) as vscode.Uri | undefined;
  assert.ok(uri, 'Open Guest File returned no URI');
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  return uri.with({ path: '/' });
}

const at = (root: vscode.Uri, path: string): vscode.Uri => root.with({ path });

describe('Guest files: the qcow2-guest: FileSystemProvider (extension host)', function () {
  this.timeout(120_000);
  const tmp = scratch('q2i-host-guest-');
  let e4 = '';
  let e2 = '';
  let plain = '';
  let backing = '';

  before(async () => {
    await extension().activate();
    const src = tmp.path('tree');
    mkdirSync(src);
    makeTree(src, { seed: 13, manyEntries: 300, bigBytes: 2 * 1024 * 1024 + 5 });
    e4 = makeExt(tmp.path('e4.img'), src, 'ext4', 24, ['-b', '4096', '-L', 'root']);
    e2 = makeExt(tmp.path('e2.img'), src, 'ext2', 16, ['-b', '1024']);
    const raw = tmp.path('disk.raw');
    makeDisk(raw, 'gpt', [e4, e2]);
    plain = toQcow2(raw, tmp.path('plain.qcow2'), 'plain');
    backing = toQcow2(raw, tmp.path('top.qcow2'), 'backing');
  });
  afterEach(() => vscode.commands.executeCommand('workbench.action.closeAllEditors'));
  after(() => tmp.cleanup());

  it('lists the volumes at the root and each directory as debugfs does, with types', async () => {
    const root = await guestRoot(plain);
    assert.equal(root.scheme, 'qcow2-guest');
    assert.match(root.authority, /^[0-9a-f]{12}$/);
    assert.deepEqual(await vscode.workspace.fs.readDirectory(root), [
      ['1', vscode.FileType.Directory],
      ['2', vscode.FileType.Directory],
    ]);
    for (const [n, img] of [
      ['1', e4],
      ['2', e2],
    ] as const) {
      for (const dir of ['/', '/etc', '/data', '/many']) {
        const ours = await vscode.workspace.fs.readDirectory(at(root, `/${n}${dir === '/' ? '' : dir}`));
        const ref = debugfsLs(img, dir);
        const typeOf = (mode: number): vscode.FileType =>
          ({ 0o100000: vscode.FileType.File, 0o40000: vscode.FileType.Directory, 0o120000: vscode.FileType.SymbolicLink })[mode & 0o170000] ??
          vscode.FileType.Unknown;
        assert.deepEqual(ours.map(([name, type]) => `${name}:${type}`).sort(), ref.map((e) => `${e.name}:${typeOf(e.mode)}`).sort(), `${n}:${dir}`);
      }
    }
  });

  it('stat gives size, type and mtime as debugfs stat; links carry their target type', async () => {
    const root = await guestRoot(plain);
    for (const name of ['hosts', 'tiny', 'empty', 'medium.txt']) {
      const st = await vscode.workspace.fs.stat(at(root, `/1/etc/${name}`));
      const ref = debugfs(e4, `stat "/etc/${name}"`);
      assert.equal(st.type, vscode.FileType.File);
      assert.equal(st.size, Number(/Size: (\d+)/.exec(ref)![1]), name);
      const mtime = Number.parseInt(/mtime: (0x[0-9a-f]+)/.exec(ref)![1], 16);
      assert.equal(Math.floor(st.mtime / 1000), mtime, name);
      assert.equal(st.permissions, vscode.FilePermission.Readonly);
    }
    assert.equal((await vscode.workspace.fs.stat(at(root, '/1/data'))).type, vscode.FileType.Directory);
    const link = await vscode.workspace.fs.stat(at(root, '/1/fast-link'));
    assert.equal(link.type, vscode.FileType.SymbolicLink | vscode.FileType.File);
    assert.equal(link.size, readFileSync(`${tmp.dir}/tree/etc/hosts`).length);
    assert.equal((await vscode.workspace.fs.stat(at(root, '/1/data/dirlink'))).type, vscode.FileType.SymbolicLink | vscode.FileType.Directory);
  });

  it('readFile returns the bytes debugfs dump gives, plain and through a backing chain', async () => {
    for (const image of [plain, backing]) {
      const root = await guestRoot(image);
      for (const [n, img] of [
        ['1', e4],
        ['2', e2],
      ] as const) {
        for (const file of [
          '/etc/hosts',
          '/etc/empty',
          '/etc/medium.txt',
          '/data/big.bin',
          '/data/f7.bin',
          '/data/nested/deeper/note.txt',
          '/name with spaces é',
        ]) {
          const ours = await vscode.workspace.fs.readFile(at(root, `/${n}${file}`));
          const ref = debugfsDump(img, file, tmp.path('dump.out'));
          assert.ok(Buffer.from(ours).equals(ref), `${image} ${n}:${file}`);
        }
        // Through a symlink: the target's bytes.
        assert.equal(
          Buffer.from(await vscode.workspace.fs.readFile(at(root, `/${n}/fast-link`))).toString(),
          readFileSync(`${tmp.dir}/tree/etc/hosts`, 'utf8'),
        );
      }
    }
  });

  it('opens a guest file in an ordinary, read-only text editor', async () => {
    const uri = (await vscode.commands.executeCommand('qcow2Inspector.openGuestFile', vscode.Uri.file(plain), '1:/etc/hosts')) as vscode.Uri;
    const editor = vscode.window.activeTextEditor;
    assert.ok(editor, 'no text editor');
    assert.equal(editor.document.uri.toString(), uri.toString());
    assert.equal(editor.document.getText(), readFileSync(`${tmp.dir}/tree/etc/hosts`, 'utf8'));
    assert.equal(vscode.workspace.fs.isWritableFileSystem('qcow2-guest'), false);
  });

  it('refuses every write with NoPermissions and leaves the image as it was', async () => {
    const root = await guestRoot(plain);
    const before = readFileSync(plain);
    const refused = async (what: string, p: Thenable<unknown>): Promise<void> => {
      await assert.rejects(Promise.resolve(p), (err: unknown) => {
        assert.ok(err instanceof vscode.FileSystemError, `${what}: ${String(err)}`);
        assert.equal(err.code, 'NoPermissions', `${what}: ${err.code}: ${err.message}`);
        return true;
      });
    };
    await refused('writeFile', vscode.workspace.fs.writeFile(at(root, '/1/etc/hosts'), new TextEncoder().encode('pwned')));
    await refused('writeFile (new)', vscode.workspace.fs.writeFile(at(root, '/1/etc/new'), new Uint8Array(1)));
    await refused('delete', vscode.workspace.fs.delete(at(root, '/1/etc/hosts')));
    await refused('rename', vscode.workspace.fs.rename(at(root, '/1/etc/hosts'), at(root, '/1/etc/hosts2')));
    await refused('createDirectory', vscode.workspace.fs.createDirectory(at(root, '/1/newdir')));
    assert.ok(readFileSync(plain).equals(before), 'the image changed');
    assert.equal(Buffer.from(await vscode.workspace.fs.readFile(at(root, '/1/etc/hosts'))).toString(), readFileSync(`${tmp.dir}/tree/etc/hosts`, 'utf8'));
  });

  it('a missing path is FileNotFound; a missing volume too; a file used as a directory is FileNotADirectory', async () => {
    const root = await guestRoot(plain);
    const code = async (p: Thenable<unknown>): Promise<string> => {
      try {
        await p;
        return 'resolved';
      } catch (err) {
        return err instanceof vscode.FileSystemError ? err.code : `not a FileSystemError: ${String(err)}`;
      }
    };
    assert.equal(await code(vscode.workspace.fs.stat(at(root, '/1/etc/no-such-file'))), 'FileNotFound');
    assert.equal(await code(vscode.workspace.fs.readFile(at(root, '/1/no/such/dir/x'))), 'FileNotFound');
    assert.equal(await code(vscode.workspace.fs.readDirectory(at(root, '/1/etc/missing'))), 'FileNotFound');
    assert.equal(await code(vscode.workspace.fs.stat(at(root, '/9/etc'))), 'FileNotFound');
    assert.match(await code(vscode.workspace.fs.readDirectory(at(root, '/1/etc/hosts'))), /FileNotADirectory|FileNotFound/);
    assert.equal(await code(vscode.workspace.fs.readFile(at(root, '/1/etc'))), 'FileIsADirectory');
    // An id no image was registered under.
    assert.equal(await code(vscode.workspace.fs.stat(root.with({ authority: '000000000000', path: '/1/etc' }))), 'Unavailable');
  });

  it('serves a FAT32 in an MBR disk as mdir and mcopy see it: long names with their case, sizes, bytes', async () => {
    const tree = tmp.path('fat-tree');
    mkdirSync(tree);
    makeSourceTree(tree, { bigFile: 300_000 });
    const fat = makeFat(tmp.path('fat32.img'), 32, 40, tree);
    makeDisk(tmp.path('fat-disk.raw'), 'mbr', [fat], 'c');
    const root = await guestRoot(toQcow2(tmp.path('fat-disk.raw'), tmp.path('fat.qcow2'), 'plain'), '1:/README.TXT');
    const ours: { path: string; dir: boolean; size: number }[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const [name, type] of await vscode.workspace.fs.readDirectory(at(root, `/1${dir === '/' ? '' : dir}`))) {
        const path = dir === '/' ? `/${name}` : `${dir}/${name}`;
        const isDir = type === vscode.FileType.Directory;
        ours.push({ path, dir: isDir, size: isDir ? 0 : (await vscode.workspace.fs.stat(at(root, `/1${path}`))).size });
        if (isDir) await walk(path);
      }
    };
    await walk('/');
    const ref = mdirAll(fat);
    const key = (e: { path: string; dir: boolean; size: number }) => `${e.path}:${e.dir}:${e.size}`;
    assert.deepEqual(ours.map(key).sort(), ref.map(key).sort());
    for (const e of ref.filter((x) => !x.dir)) {
      assert.ok(Buffer.from(await vscode.workspace.fs.readFile(at(root, `/1${e.path}`))).equals(mcopyOut(fat, e.path)), e.path);
    }
  });

  it('a hex edit saved over an open guest file: a Changed event for it, and its text editor shows the new bytes', async () => {
    const image = tmp.path('edited.qcow2');
    toQcow2(tmp.path('disk.raw'), image, 'plain');
    const ext = JSON.parse(execFileSync('node', [`${__dirname}/../../cli.js`, 'fs', 'stat', '--output=json', image, '1:/etc/hosts'], { encoding: 'utf8' })) as {
      extents: { 'guest-offset': number }[];
    };
    const offset = ext.extents[0]['guest-offset'];
    const uri = (await vscode.commands.executeCommand('qcow2Inspector.openGuestFile', vscode.Uri.file(image), '1:/etc/hosts')) as vscode.Uri;
    const text = vscode.window.activeTextEditor?.document;
    assert.ok(text && text.uri.toString() === uri.toString(), 'the guest file is not open in a text editor');
    const old = text.getText();
    assert.equal(old, readFileSync(`${tmp.dir}/tree/etc/hosts`, 'utf8'));
    const events: vscode.FileChangeEvent[] = [];
    const api = testing() as unknown as { onDidChangeGuestFile: vscode.Event<vscode.FileChangeEvent[]> };
    const sub = api.onDidChangeGuestFile((e) => events.push(...e));
    try {
      // The hex view's write path: an edit in the image's editor, then Save.
      const doc = await open(image);
      const hello = [...Buffer.from('HELLO')];
      edit(doc, offset, hello, [...Buffer.from(old.slice(0, 5))]);
      await vscode.commands.executeCommand('workbench.action.files.save');
      await waitFor('the save', () => !doc.journal.isDirty);
      await waitFor('a Changed event for the guest file', () =>
        events.some((e) => e.type === vscode.FileChangeType.Changed && e.uri.toString() === uri.toString()),
      );
      const expected = `HELLO${old.slice(5)}`;
      assert.equal(Buffer.from(await vscode.workspace.fs.readFile(uri)).toString(), expected);
      await waitFor('the open text editor to show the new bytes', () => text.getText() === expected);
      assert.equal(text.isDirty, false);
    } finally {
      sub.dispose();
    }
  });

  it('a write by another program (qemu-io) under an open guest file reaches its text editor too', async () => {
    const image = tmp.path('outside.qcow2');
    toQcow2(tmp.path('disk.raw'), image, 'plain');
    const ext = JSON.parse(execFileSync('node', [`${__dirname}/../../cli.js`, 'fs', 'stat', '--output=json', image, '1:/etc/hosts'], { encoding: 'utf8' })) as {
      extents: { 'guest-offset': number }[];
    };
    const uri = (await vscode.commands.executeCommand('qcow2Inspector.openGuestFile', vscode.Uri.file(image), '1:/etc/hosts')) as vscode.Uri;
    const text = vscode.window.activeTextEditor!.document;
    const old = text.getText();
    const events: vscode.FileChangeEvent[] = [];
    const api = testing() as unknown as { onDidChangeGuestFile: vscode.Event<vscode.FileChangeEvent[]> };
    const sub = api.onDidChangeGuestFile((e) => events.push(...e));
    try {
      await new Promise((r) => setTimeout(r, 20)); // a different mtime even on coarse clocks
      qemuIo(image, `write -P 0x42 ${ext.extents[0]['guest-offset']} 4096`);
      await waitFor('a Changed event for the guest file', () => events.some((e) => e.uri.toString() === uri.toString()));
      await waitFor('the open text editor to show the new bytes', () => text.getText() === 'B'.repeat(old.length));
    } finally {
      sub.dispose();
    }
  });

  it('"Show Guest File Extents on the Map" opens the image\'s editor on its Map tab; an empty file has none to show', async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    assert.equal(await vscode.commands.executeCommand('qcow2Inspector.showGuestFileExtents', plain, '1:/data/big.bin'), true);
    const api = extension().exports as { activeView(): string | undefined };
    await waitFor('the Map tab', () => api.activeView() === 'map');
    assert.equal(await vscode.commands.executeCommand('qcow2Inspector.showGuestFileExtents', plain, '1:/etc/empty'), false);
  });

  it('reads the image again after it changed on disk', async () => {
    const copy = tmp.path('changing.qcow2');
    toQcow2(tmp.path('disk.raw'), copy, 'plain');
    const root = await guestRoot(copy);
    const hosts = at(root, '/1/etc/hosts');
    const old = Buffer.from(await vscode.workspace.fs.readFile(hosts)).toString();
    // Overwrite the file's first data block in the guest disk, where the extents say it lies.
    const ext = JSON.parse(execFileSync('node', [`${__dirname}/../../cli.js`, 'fs', 'stat', '--output=json', copy, '1:/etc/hosts'], { encoding: 'utf8' })) as {
      extents: { 'guest-offset': number }[];
    };
    await new Promise((r) => setTimeout(r, 20)); // a different mtime even on coarse clocks
    qemuIo(copy, `write -P 0x41 ${ext.extents[0]['guest-offset']} 4096`);
    const now = Buffer.from(await vscode.workspace.fs.readFile(hosts)).toString();
    assert.notEqual(now, old);
    assert.equal(now, 'A'.repeat(old.length));
  });
});
