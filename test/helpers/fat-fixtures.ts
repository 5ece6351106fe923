/**
 * FAT fixtures made at test time with mkfs.vfat and mtools (mcopy), and readers of mtools' own view (mdir,
 * mcopy out) to compare against. TZ=UTC everywhere: FAT stores local time.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const env = { ...process.env, TZ: 'UTC', MTOOLS_SKIP_CHECK: '1' };

export function sh(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { env, encoding: 'buffer', maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

/** Deterministic bytes (xorshift), so a fixture's content is the same on every run. */
export function seededBytes(length: number, seed: number): Uint8Array {
  const out = new Uint8Array(length);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = s & 0xff;
  }
  return out;
}

/** A host folder tree with the names and shapes the FAT tests need. */
export function makeSourceTree(root: string, opts: { bigDirEntries?: number; bigFile?: number } = {}): void {
  mkdirSync(join(root, 'Docs/Nested Deeper/Third'), { recursive: true });
  mkdirSync(join(root, 'lower'), { recursive: true });
  writeFileSync(join(root, 'README.TXT'), 'upper-case 8.3 name\n');
  writeFileSync(join(root, 'notes.txt'), 'lower-case 8.3 name (NT case flags)\n');
  writeFileSync(join(root, 'MixedCase.Md'), '# mixed case keeps a long name\n');
  writeFileSync(join(root, 'A rather long file name with spaces.text'), 'long name\n');
  writeFileSync(join(root, 'Docs/Nested Deeper/Third/deep.bin'), seededBytes(5000, 7));
  writeFileSync(join(root, 'Docs/Überraschung.txt'), 'non-ASCII long name\n');
  writeFileSync(join(root, 'lower/empty.dat'), '');
  writeFileSync(join(root, 'big.bin'), seededBytes(opts.bigFile ?? 3 * 1024 * 1024, 42));
  if (opts.bigDirEntries) {
    const many = join(root, 'many');
    mkdirSync(many);
    // Mostly lower-case 8.3 names (mcopy's ~N tail search is quadratic: 1,100 long names take a minute), one in
    // 25 a long name.
    for (let i = 0; i < opts.bigDirEntries; i++) {
      const name = i % 25 === 0 ? `Long Entry ${i}.txt` : `e${10000 + i}.txt`;
      writeFileSync(join(many, name), `${i}\n`);
    }
  }
}

/** mkfs.vfat -F bits on a new raw file (or at a partition offset of a disk), then mcopy -s of the tree. */
export function makeFat(
  image: string,
  bits: 12 | 16 | 32,
  sizeMiB: number,
  tree: string,
  opts: { offsetSectors?: number; label?: string; sectorsPerCluster?: number } = {},
): string {
  const off = opts.offsetSectors ?? 0;
  if (off === 0) sh('truncate', ['-s', `${sizeMiB}M`, image]);
  const args = ['-F', String(bits), '-n', opts.label ?? `FAT${bits}TEST`, '-i', '1234ABCD'];
  if (opts.sectorsPerCluster) args.push('-s', String(opts.sectorsPerCluster));
  if (off > 0) args.push('--offset', String(off));
  const blocks = off > 0 ? String((sizeMiB * 1024 * 1024 - off * 512) / 1024 - 1) : undefined;
  sh('mkfs.vfat', [...args, image, ...(blocks ? [blocks] : [])]);
  const target = mtoolsTarget(image, off);
  sh('bash', ['-c', `cd "${tree}" && mcopy -s -Q -i "${target}" * ::`]);
  return target;
}

export function mtoolsTarget(image: string, offsetSectors = 0): string {
  return offsetSectors > 0 ? `${image}@@${offsetSectors * 512}` : image;
}

export interface MdirEntry {
  path: string;
  dir: boolean;
  size: number;
}

/** Every entry as mdir -a -/ lists it: path from its long name (or the cased short name), size, kind. */
export function mdirAll(target: string): MdirEntry[] {
  const out: MdirEntry[] = [];
  let dir = '/';
  for (const line of sh('mdir', ['-a', '-/', '-i', target, '::']).split('\n')) {
    const head = /^Directory for ::(\/.*)$/.exec(line);
    if (head) {
      dir = head[1];
      continue;
    }
    const m = /^(.{8}) (.{3}) +(<DIR>|\d+) +\d{4}-\d\d-\d\d +\d\d:\d\d {0,2}(.*)$/.exec(line);
    if (!m) continue;
    const base = m[1].trimEnd();
    const ext = m[2].trimEnd();
    const name = m[4] !== '' ? m[4] : ext ? `${base}.${ext}` : base;
    if (name === '.' || name === '..') continue;
    out.push({ path: dir === '/' ? `/${name}` : `${dir}/${name}`, dir: m[3] === '<DIR>', size: m[3] === '<DIR>' ? 0 : Number(m[3]) });
  }
  return out;
}

/** A file's bytes as mtools reads them. */
export function mcopyOut(target: string, path: string): Buffer {
  return execFileSync('mcopy', ['-n', '-i', target, `::${path}`, '-'], { env, maxBuffer: 1 << 28 });
}
