/**
 * Guest file-system fixtures, made at test time with the real tools: a seeded tree of files, `mkfs.ext4 -d` /
 * `mke2fs` images of it, GPT or MBR disks (sfdisk) holding them, and qcow2 images of those disks (plain,
 * compressed, and as the top of a backing chain whose clusters are split between the two layers).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmdirSync, statSync, symlinkSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { prng } from './images';
import { qemuImg } from './qemu';

export interface TreeOptions {
  seed: number;
  /** Entries in /many (an htree directory when large). */
  manyEntries?: number;
  /** Bytes of /data/big.bin. */
  bigBytes?: number;
}

/** Files every fixture holds, so tests know what to look for. */
export function makeTree(dir: string, opts: TreeOptions): void {
  const rnd = prng(opts.seed);
  const bytes = (n: number): Buffer => {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = Math.floor(rnd() * 256);
    return b;
  };
  mkdirSync(join(dir, 'etc'), { recursive: true });
  writeFileSync(join(dir, 'etc/hosts'), '127.0.0.1 localhost\n::1 localhost ip6-localhost\n');
  writeFileSync(join(dir, 'etc/tiny'), 'x');
  writeFileSync(join(dir, 'etc/empty'), '');
  writeFileSync(join(dir, 'etc/medium.txt'), bytes(100)); // inline with inline_data (60 bytes in i_block + xattr)
  mkdirSync(join(dir, 'data/nested/deeper'), { recursive: true });
  writeFileSync(join(dir, 'data/big.bin'), bytes(opts.bigBytes ?? 3 * 1024 * 1024 + 123));
  writeFileSync(join(dir, 'data/nested/deeper/note.txt'), 'deep\n');
  for (let i = 0; i < 20; i++) writeFileSync(join(dir, `data/f${i}.bin`), bytes(Math.floor(rnd() * 40000)));
  symlinkSync('/etc/hosts', join(dir, 'fast-link'));
  symlinkSync('../etc/' + 'x'.repeat(90), join(dir, 'data/slow-link'));
  symlinkSync('nested', join(dir, 'data/dirlink'));
  mkdirSync(join(dir, 'many'));
  for (let i = 0; i < (opts.manyEntries ?? 0); i++) writeFileSync(join(dir, `many/entry-${String(i).padStart(5, '0')}`), i % 10 ? '' : `n${i}`);
  writeFileSync(join(dir, 'name with spaces é'), 'unicode\n');
}

/** `mke2fs -t TYPE -d SRC [options] IMG SIZE` (quiet, no prompts). */
export function makeExt(img: string, src: string, type: 'ext2' | 'ext3' | 'ext4', sizeMiB: number, options: string[] = []): string {
  execFileSync('mke2fs', ['-q', '-F', '-t', type, '-d', src, ...options, img, `${sizeMiB}M`], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, E2FSPROGS_FAKE_TIME: '' },
  });
  return img;
}

export interface PlacedPart {
  image: string;
  /** Byte offset of the partition on the disk. */
  start: number;
  size: number;
  number: number;
}

/**
 * A raw disk with a GPT or MBR table (sfdisk) and one partition per file-system image, each image copied to its
 * partition's start. Partitions are 1 MiB-aligned and sized to their image.
 */
export function makeDisk(path: string, scheme: 'gpt' | 'mbr', images: string[], partType = 'L'): PlacedPart[] {
  const MiB = 1024 * 1024;
  const sizes = images.map((i) => Math.ceil(readFileSync(i).length / MiB) * MiB);
  const total = sizes.reduce((a, b) => a + b, 0) + 2 * MiB;
  execFileSync('truncate', ['-s', String(total), path]);
  const script = `label: ${scheme === 'gpt' ? 'gpt' : 'dos'}\n` + sizes.map((s) => `,${s / 512},${partType}\n`).join('');
  execFileSync('sfdisk', ['-q', path], { input: script });
  const parts: PlacedPart[] = [];
  let at = MiB;
  const fd = openSync(path, 'r+');
  try {
    images.forEach((image, i) => {
      writeSync(fd, readFileSync(image), 0, undefined, at);
      parts.push({ image, start: at, size: sizes[i], number: i + 1 });
      at += sizes[i];
    });
  } finally {
    closeSync(fd);
  }
  return parts;
}

export type QcowVariant = 'plain' | 'compressed' | 'backing';

/**
 * The disk as qcow2. `backing`: a base image holding the disk with every other 64 KiB cluster zeroed, and a top
 * image (`convert -B base`) holding only what differs, so file data is spread over both layers.
 */
export function toQcow2(raw: string, out: string, variant: QcowVariant): string {
  if (variant === 'plain') qemuImg(['convert', '-q', '-O', 'qcow2', raw, out]);
  else if (variant === 'compressed') qemuImg(['convert', '-q', '-c', '-O', 'qcow2', raw, out]);
  else {
    const half = `${out}.half.raw`;
    const data = readFileSync(raw);
    for (let at = 64 * 1024; at < data.length; at += 128 * 1024) data.fill(0, at, Math.min(at + 64 * 1024, data.length));
    writeFileSync(half, data);
    const base = `${out}.base.qcow2`;
    qemuImg(['convert', '-q', '-O', 'qcow2', half, base]);
    qemuImg(['convert', '-q', '-O', 'qcow2', '-B', base, '-F', 'qcow2', raw, out]);
  }
  return out;
}

/** Runs one debugfs request on a raw file-system image (read-only) and returns its output. */
export function debugfs(img: string, request: string): string {
  return execFileSync('debugfs', ['-R', request, img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 28 });
}

export interface DebugfsEntry {
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  name: string;
}

/** `debugfs -R "ls -l DIR"` parsed, without "." and "..". */
export function debugfsLs(img: string, dir: string): DebugfsEntry[] {
  const out: DebugfsEntry[] = [];
  for (const line of debugfs(img, `ls -l "${dir}"`).split('\n')) {
    const m = /^\s*(\d+)\s+(\d+)\s+\(\d+\)\s+(\d+)\s+(\d+)\s+(\d+)\s+\S+\s+\S+\s(.*)$/.exec(line);
    if (!m || m[6] === '.' || m[6] === '..') continue;
    out.push({ ino: +m[1], mode: parseInt(m[2], 8), uid: +m[3], gid: +m[4], size: +m[5], name: unescapeDebugfs(m[6]) });
  }
  return out;
}

/** debugfs prints bytes >= 0x80 in names as \xNN escapes. */
function unescapeDebugfs(name: string): string {
  if (!name.includes('\\x')) return name;
  const bytes: number[] = [];
  for (let i = 0; i < name.length; i++) {
    if (name.startsWith('\\x', i) && /^[0-9a-f]{2}$/i.test(name.slice(i + 2, i + 4))) {
      bytes.push(parseInt(name.slice(i + 2, i + 4), 16));
      i += 3;
    } else bytes.push(...Buffer.from(name[i]));
  }
  return Buffer.from(bytes).toString('utf8');
}

/** `e2fsck -fyD`: rebuilds directories, indexing the large ones as htrees (mke2fs -d writes them linear). */
export function indexDirectories(img: string): void {
  const r = spawnSync('e2fsck', ['-fyD', img], { stdio: 'ignore' });
  if (r.status !== 0 && r.status !== 1) throw new Error(`e2fsck -fyD ${img} exited ${r.status}`);
}

/**
 * `debugfs -R "blocks FILE"`: the file's blocks in logical order. With a legacy block map that list includes the
 * indirect blocks; they are taken out using the (IND)/(DIND)/(TIND) entries `debugfs stat` shows.
 */
export function debugfsBlocks(img: string, file: string): number[] {
  const all = debugfs(img, `blocks "${file}"`).trim().split(/\s+/).filter(Boolean).map(Number);
  const tree = new Set<number>();
  for (const m of debugfs(img, `stat "${file}"`).matchAll(/\((?:IND|DIND|TIND)\):(\d+)(?:-(\d+))?/g)) {
    for (let b = Number(m[1]); b <= Number(m[2] ?? m[1]); b++) tree.add(b);
  }
  return all.filter((b) => !tree.has(b));
}

/** `debugfs -R "dump FILE OUT"`: the file's bytes. */
export function debugfsDump(img: string, file: string, out: string): Buffer {
  debugfs(img, `dump "${file}" ${out}`);
  return readFileSync(out);
}

export interface LvmLayout {
  /** Byte offset of the first extent on the PV. */
  peStart: number;
  extentSize: number;
  /** Per LV name, its segments as [first PE, last PE] on the PV, in LV order. */
  lvs: Map<string, [number, number][]>;
}

/**
 * Makes a PV, a VG "vg" and LVs on bytes [start, start + size) of a raw disk, through a loop device, with activation
 * off (no device-mapper here): each LV is `lvcreate -an -Zn`, and `extend` grows LVs afterwards so they span
 * several segments. Returns where the extents lie, read back with `lvs -o seg_pe_ranges`.
 */
export function makeLvm(raw: string, start: number, size: number, lvs: { name: string; mib: number }[], extend: { name: string; mib: number }[]): LvmLayout {
  return withLvmLock(() => makeLvmLocked(raw, start, size, lvs, extend));
}

/** LVM's VG names are machine-wide: two test processes (the Node 20 and Node 24 stages) must not make "vg" at once. */
function withLvmLock<T>(fn: () => T): T {
  const lock = '/tmp/q2i-test-lvm.lock';
  const nap = new Int32Array(new SharedArrayBuffer(4));
  for (let tries = 0; ; tries++) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock left by a killed run is stale after a minute (making the VG takes about a second).
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > 60_000) rmdirSync(lock);
      else if (tries > 1200) throw new Error(`LVM fixture lock ${lock} held for over 2 minutes`);
      Atomics.wait(nap, 0, 0, 100);
    }
  }
  try {
    return fn();
  } finally {
    rmdirSync(lock);
  }
}

function makeLvmLocked(raw: string, start: number, size: number, lvs: { name: string; mib: number }[], extend: { name: string; mib: number }[]): LvmLayout {
  const env = { ...process.env, LVM_SUPPRESS_FD_WARNINGS: '1' };
  const cfg = ['--config', 'devices{use_devicesfile=0}'];
  const lvm = (args: string[]): string => execFileSync(args[0], [...args.slice(1), ...cfg], { env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  const loop = execFileSync('losetup', ['--show', '-f', '--offset', String(start), '--sizelimit', String(size), raw], { encoding: 'utf8' }).trim();
  try {
    lvm(['pvcreate', '-q', loop]);
    lvm(['vgcreate', '-q', '-s', '1M', 'vg', loop]);
    for (const lv of lvs) lvm(['lvcreate', '-q', '--driverloaded', 'n', '-an', '-Zn', '-y', '-L', `${lv.mib}M`, '-n', lv.name, 'vg']);
    for (const lv of extend) lvm(['lvextend', '-q', '--driverloaded', 'n', '-L', `+${lv.mib}M`, `vg/${lv.name}`]);
    const peStart = Number(lvm(['pvs', '--noheadings', '--units', 'b', '--nosuffix', '-o', 'pe_start', loop]).trim());
    const out = new Map<string, [number, number][]>();
    for (const line of lvm(['lvs', '--noheadings', '-o', 'lv_name,seg_pe_ranges', '--segments', 'vg']).split('\n')) {
      const m = /^\s*(\S+)\s+\S+:(\d+)-(\d+)/.exec(line);
      if (m) out.set(m[1], [...(out.get(m[1]) ?? []), [Number(m[2]), Number(m[3])]]);
    }
    lvm(['vgchange', '-q', '--driverloaded', 'n', '-an', 'vg']);
    return { peStart, extentSize: 1024 * 1024, lvs: out };
  } finally {
    execFileSync('losetup', ['-d', loop]);
  }
}

/** Copies a file-system image into an LV's extents (segment by segment) inside the raw disk. */
export function writeIntoLv(raw: string, pvStart: number, layout: LvmLayout, lv: string, image: string): void {
  const data = readFileSync(image);
  const fd = openSync(raw, 'r+');
  try {
    let at = 0;
    for (const [first, last] of layout.lvs.get(lv)!) {
      const len = Math.min((last - first + 1) * layout.extentSize, data.length - at);
      if (len <= 0) break;
      writeSync(fd, data, at, len, pvStart + layout.peStart + first * layout.extentSize);
      at += len;
    }
  } finally {
    closeSync(fd);
  }
}
