/**
 * NTFS fixtures made at test time: mkntfs --fast, filled through an ntfs-3g FUSE mount (directories, hard links,
 * sparse files, a compressed folder via the `compression` option and the system.ntfs_attrib_be attribute,
 * alternate data streams as user.* xattrs, a fragmented file) and with ntfscp (a file and a named stream). The
 * reference views come from ntfsls -l, ntfscat and ntfsinfo.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync, linkSync, symlinkSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { seededBytes } from './fat-fixtures';

const env = { ...process.env, TZ: 'UTC' };

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { env, encoding: 'buffer', maxBuffer: 1 << 28, timeout: 120_000 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr?.toString()}${r.error ?? ''}`);
  return r.stdout.toString();
}

export function mkntfs(image: string, sizeMiB: number, label = 'NtfsTest'): void {
  run('truncate', ['-s', `${sizeMiB}M`, image]);
  run('mkntfs', ['-q', '--fast', '-F', '-L', label, image]);
}

/** Mounts with ntfs-3g (FUSE), runs `fill` on the mount point, unmounts. */
export function withNtfsMount(image: string, mnt: string, fill: (root: string) => void, compression = false): void {
  mkdirSync(mnt, { recursive: true });
  run('ntfs-3g', ['-o', `${compression ? 'compression,' : ''}streams_interface=xattr`, image, mnt]);
  try {
    fill(mnt);
  } finally {
    run('umount', [mnt]);
  }
}

/** Sets an xattr (node has no setxattr; python's os.setxattr is the smallest portable way). */
export function setXattr(path: string, name: string, value: Uint8Array): void {
  run('python3', ['-c', 'import os,sys; os.setxattr(sys.argv[1], sys.argv[2], bytes.fromhex(sys.argv[3]))', path, name, Buffer.from(value).toString('hex')]);
}

export const COMPRESSIBLE = Buffer.from('All work and no play makes Jack a dull boy. '.repeat(6000) + 'the end\n');

/**
 * Fragmented: on a fresh volume, appends interleaved with another file's, each synced, so ntfs-3g allocates the
 * two in turns (later, on a busier volume, its allocator kept the file contiguous). Run in python3 (already needed
 * for setxattr) as the exact sequence measured to give 100+ runs.
 */
export function fillFragmented(root: string): void {
  run('python3', [
    '-c',
    `
import os, random, sys
r = random.Random(77)
a = os.open(sys.argv[1] + '/fragmented.bin', os.O_WRONLY | os.O_CREAT)
b = os.open(sys.argv[1] + '/spacer.bin', os.O_WRONLY | os.O_CREAT)
for i in range(300):
    os.write(a, r.randbytes(8192)); os.fsync(a); os.write(b, r.randbytes(4096)); os.fsync(b)
os.close(a); os.close(b); os.unlink(sys.argv[1] + '/spacer.bin')
`,
    root,
  ]);
}

/** A folder with the compressed attribute (0x800): files made in it are LZNT1-compressed (mount with compression). */
export function fillCompressed(root: string): void {
  mkdirSync(join(root, 'comp'));
  setXattr(join(root, 'comp'), 'system.ntfs_attrib_be', Buffer.from([0, 0, 0x08, 0x10]));
  writeFileSync(join(root, 'comp/text.txt'), COMPRESSIBLE);
  writeFileSync(join(root, 'comp/mixed.bin'), Buffer.concat([seededBytes(70_000, 21), COMPRESSIBLE.subarray(0, 100_000), Buffer.alloc(80_000)]));
}

/** The standard tree: names, nesting, 1,100-entry directory, hard links (and an attribute list), sparse, ADS. */
export function fillStandardTree(root: string, opts: { manyEntries?: number } = {}): void {
  mkdirSync(join(root, 'Docs/Nested Deeper/Third'), { recursive: true });
  writeFileSync(join(root, 'notes.txt'), 'plain notes\n');
  writeFileSync(join(root, 'MixedCase Long Name.Markdown'), '# mixed\n');
  writeFileSync(join(root, 'Docs/Überraschung.txt'), 'non-ASCII name\n');
  writeFileSync(join(root, 'Docs/Nested Deeper/Third/deep.bin'), seededBytes(70_000, 3));
  writeFileSync(join(root, 'empty.dat'), '');
  linkSync(join(root, 'notes.txt'), join(root, 'Docs/link to notes.txt'));
  symlinkSync('../notes.txt', join(root, 'Docs/symlink to notes'));
  symlinkSync('/an/absolute/target', join(root, 'Docs/absolute symlink'));
  setXattr(join(root, 'notes.txt'), 'user.secret', Buffer.from('hidden stream content\n'));
  setXattr(join(root, 'notes.txt'), 'user.other', seededBytes(9000, 5));
  // Sparse: data at 1 MiB and 3 MiB, holes elsewhere.
  const fd = openSync(join(root, 'sparse.bin'), 'w');
  writeSync(fd, seededBytes(4096, 11), 0, 4096, 1 << 20);
  writeSync(fd, seededBytes(5000, 12), 0, 5000, 3 << 20);
  closeSync(fd);
  // Many hard links overflow the base record: ntfs-3g moves attributes out and writes an $ATTRIBUTE_LIST.
  mkdirSync(join(root, 'links'));
  writeFileSync(join(root, 'links/target.txt'), 'linked many times\n');
  for (let i = 0; i < 24; i++) linkSync(join(root, 'links/target.txt'), join(root, `links/a rather long hard link name number ${i}.txt`));
  const many = opts.manyEntries ?? 1100;
  if (many > 0) {
    mkdirSync(join(root, 'many'));
    for (let i = 0; i < many; i++) writeFileSync(join(root, `many/Entry ${String(i).padStart(5, '0')} of many.txt`), `${i}\n`);
  }
}

export function ntfscp(image: string, src: string, dest: string, stream?: string): void {
  run('ntfscp', ['-q', ...(stream ? ['-N', stream] : []), image, src, dest]);
}

export interface NtfslsEntry {
  name: string;
  size: number;
}

/** ntfsls -l -a -p DIR: one entry per name, with the size the index holds. */
export function ntfsls(image: string, dir: string): NtfslsEntry[] {
  return run('ntfsls', ['-l', '-a', '-p', dir, image])
    .split('\n')
    .map((l) => /^\s*(\d+) +\w{3} +\d+ +\d\d:\d\d +\d{4} (.*)$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => ({ name: m[2], size: Number(m[1]) }));
}

export function ntfscat(image: string, path: string, stream?: string): Buffer {
  return execFileSync('ntfscat', [...(stream ? ['-a', '0x80', '-n', stream] : []), image, path], { env, maxBuffer: 1 << 28 });
}

/** The data runs ntfsinfo -v prints: [vcn, lcn (-1 for holes), length] in clusters. */
export function ntfsinfoRuns(image: string, path: string): number[][] {
  const out = run('ntfsinfo', ['-v', '-F', path, image]);
  const runs: number[][] = [];
  for (const m of out.matchAll(/^\t\t\t(0x[0-9a-f]+)\t\t(<HOLE>|0x[0-9a-f]+)\t\t(0x[0-9a-f]+)$/gm)) {
    runs.push([Number(m[1]), m[2] === '<HOLE>' ? -1 : Number(m[2]), Number(m[3])]);
  }
  return runs;
}
