/** Shared by the iotests ports: byte patches, and running one command through qemu-img and our CLI on copies. */
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { closeSync, copyFileSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { cli, qemuImg } from '../helpers/qemu';

export function patch(path: string, offset: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

export const be64 = (v: number | bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(v));
  return b;
};

export const be32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};

export const u64At = (path: string, off: number): number => Number(readFileSync(path).readBigUInt64BE(off));

export interface Both {
  q: { code: number; stdout: string; stderr: string };
  o: { code: number; stdout: string; stderr: string };
}

/**
 * Runs `qemu-img ARGS ref` and `our-cli ARGS ours`; stdout has each file's path replaced by IMG. With `same`,
 * asserts equal exit codes and stdout.
 */
export async function both(args: string[], ref: string, ours: string, same = true): Promise<Both> {
  const r = qemuImg([...args, ref], true);
  const o = await cli([...args, ours]);
  const out: Both = {
    q: { code: r.code, stdout: r.stdout.split(ref).join('IMG'), stderr: r.stderr },
    o: { code: o.code, stdout: o.stdout.toString().split(ours).join('IMG'), stderr: o.stderr },
  };
  if (same) {
    assert.equal(out.o.code, out.q.code, `${args.join(' ')}: exit code (qemu-img stderr: ${r.stderr}; ours: ${o.stderr})`);
    assert.equal(out.o.stdout, out.q.stdout, `${args.join(' ')}: stdout`);
  }
  return out;
}

/** Two copies of `src` (one for qemu-img, one for us), returned as [ref, ours]. */
export function copies(src: string, ref: string, ours: string): [string, string] {
  copyFileSync(src, ref);
  copyFileSync(src, ours);
  return [ref, ours];
}

export type Step = 'info' | 'map' | 'convert' | 'check' | 'leaks' | 'all';

export interface CompareOptions {
  /** Steps left out (each case says why). */
  skip?: Step[];
  /** Also compare the check commands' stderr (qemu-img's detail lines) byte for byte. */
  stderr?: boolean;
  /** Steps where ours is allowed to differ; the case asserts what ours does instead. */
  differ?: Step[];
  /** Repairs whose output and exit code agree but whose resulting image may differ (the case asserts it). */
  stateDiffers?: ('leaks' | 'all')[];
}

/**
 * The full comparison of one damaged image with qemu-img 7.2: info and map JSON, convert bytes, check text and
 * JSON, then `-r leaks` and `-r all` on fresh copies (stdout, exit code, and qemu-img check and compare on the
 * results). Returns every step's outputs so a case can assert more.
 */
export async function compareWithQemu(src: string, work: (name: string) => string, opts: CompareOptions = {}): Promise<Record<string, Both>> {
  const out: Record<string, Both> = {};
  const on = (s: Step): boolean => !opts.skip?.includes(s);
  const same = (s: Step): boolean => !opts.differ?.includes(s);
  const errs = (b: Both, what: string): void => {
    if (opts.stderr) assert.equal(detailLines(b.o.stderr), detailLines(b.q.stderr), `${what}: stderr`);
  };
  if (on('info')) out.info = await both(['info', '--output=json'], src, src, same('info'));
  if (on('map')) out.map = await both(['map', '--output=json'], src, src, same('map'));
  if (on('convert')) {
    const q = qemuImg(['convert', '-O', 'raw', src, work('q.raw')], true);
    const o = await cli(['convert', '-O', 'raw', src, work('o.raw')]);
    out.convert = { q, o: { code: o.code, stdout: o.stdout.toString(), stderr: o.stderr } };
    if (same('convert')) {
      assert.equal(o.code, q.code, `convert exit code (qemu-img: ${q.stderr}; ours: ${o.stderr})`);
      if (q.code === 0) assert.ok(readFileSync(work('q.raw')).equals(readFileSync(work('o.raw'))), "convert bytes equal qemu-img's");
    }
  }
  if (on('check')) {
    out.check = await both(['check'], src, src, same('check'));
    if (same('check')) errs(out.check, 'check');
    out.checkJson = await both(['check', '--output=json'], src, src, same('check'));
  }
  for (const mode of ['leaks', 'all'] as const) {
    if (!on(mode)) continue;
    const [ref, ours] = copies(src, work(`ref-${mode}.qcow2`), work(`ours-${mode}.qcow2`));
    const r = await both(['check', '-r', mode], ref, ours, same(mode));
    out[mode] = r;
    if (!same(mode)) continue;
    errs(r, `-r ${mode}`);
    if (opts.stateDiffers?.includes(mode)) continue;
    const qa = qemuImg(['check', '--output=json', ref], true);
    const oa = qemuImg(['check', '--output=json', ours], true);
    assert.equal(oa.code, qa.code, `qemu-img check after -r ${mode}: exit code`);
    assert.equal(oa.stdout.split(ours).join('IMG'), qa.stdout.split(ref).join('IMG'), `qemu-img check after -r ${mode}`);
    // (Exit 2 or more: qemu-img cannot open or read the guest data; then it cannot read its own repair either.)
    const cmp = qemuImg(['compare', '-q', ours, ref], true).code;
    if (cmp >= 2) assert.equal(qemuImg(['compare', '-q', ref, ref], true).code, cmp, `after -r ${mode}: not only ours unreadable`);
    else if (qa.code !== 1) assert.equal(cmp, 0, `guest data after -r ${mode} equals qemu-img's`);
  }
  return out;
}

/** A check's stderr without the tool's own closing error line ("qemu-img: …", "qcow2-inspector: …"). */
export function detailLines(stderr: string): string {
  return stderr
    .split('\n')
    .filter((l) => !/^(qemu-img|qcow2-inspector): /.test(l))
    .join('\n');
}

/** Sets bit `bit` (0..63) of a v3 header's incompatible (72), compatible (80) or autoclear (88) feature field. */
export function setFeatureBit(path: string, kind: 'incompatible' | 'compatible' | 'autoclear', bit: number): void {
  const field = { incompatible: 72, compatible: 80, autoclear: 88 }[kind];
  const at = field + 7 - Math.floor(bit / 8);
  const fd = openSync(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] |= 1 << (bit % 8);
    writeSync(fd, b, 0, 1, at);
  } finally {
    closeSync(fd);
  }
}

/**
 * Rewrites a v3 image's header extensions (after header_length, up to the end marker): drops those of type
 * `magic` and, with `data`, appends one of that type, as qcow2.py's del-header-ext / add-header-ext do. The image
 * must have no backing file name (it would follow the extensions).
 */
export function setHeaderExtension(path: string, magic: number, data?: Buffer): void {
  const b = readFileSync(path);
  assert.equal(b.readBigUInt64BE(8), 0n, 'setHeaderExtension: image has a backing file name');
  const start = b.readUInt32BE(100);
  const kept: Buffer[] = [];
  let at = start;
  while (at + 8 <= b.length) {
    const type = b.readUInt32BE(at);
    const len = b.readUInt32BE(at + 4);
    if (type === 0) break;
    const whole = 8 + Math.ceil(len / 8) * 8;
    if (type !== magic) kept.push(b.subarray(at, at + whole));
    at += whole;
  }
  if (data) {
    const head = Buffer.alloc(8);
    head.writeUInt32BE(magic, 0);
    head.writeUInt32BE(data.length, 4);
    kept.push(Buffer.concat([head, data, Buffer.alloc(Math.ceil(data.length / 8) * 8 - data.length)]));
  }
  const area = Buffer.concat([...kept, Buffer.alloc(8)]);
  patch(path, start, Buffer.concat([area, Buffer.alloc(Math.max(0, at + 8 - start - area.length))]));
}

/** The feature name table's header extension type. */
export const FEATURE_TABLE = 0x6803f857;

/** The read-only views compared on one file: info, check (text and JSON), map and the snapshot list. */
export const VIEWS: string[][] = [['info'], ['info', '--output=json'], ['check'], ['check', '--output=json'], ['map', '--output=json'], ['snapshot', '-l']];

/** Runs each view through qemu-img and our CLI on the same file: same exit code and stdout. */
export async function sameViews(img: string, views: string[][] = VIEWS): Promise<void> {
  for (const v of views) await both(v, img, img);
}

/** `convert -O raw` (with `extra`, e.g. `-l snapshot.name=foo`) by both tools: both succeed with the same bytes. */
export async function sameConvert(img: string, outDir: (name: string) => string, extra: string[] = []): Promise<void> {
  const q = outDir('convert-q.raw');
  const o = outDir('convert-o.raw');
  qemuImg(['convert', ...extra, '-O', 'raw', img, q]);
  const r = await cli(['convert', ...extra, '-O', 'raw', img, o]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(readFileSync(q).equals(readFileSync(o)), `convert ${extra.join(' ')}: bytes equal qemu-img's`);
}

/** `check` detail lines (stderr) of both tools, for cases where the exact lines matter. */
export async function checkLines(ref: string, ours: string, repair?: 'leaks' | 'all'): Promise<{ q: string[]; o: string[] }> {
  const args = ['check', ...(repair ? ['-r', repair] : [])];
  const r = qemuImg([...args, ref], true);
  const o = await cli([...args, ours]);
  const lines = (s: string): string[] => s.split('\n').filter((l) => l && !/^(qemu-img|qcow2-inspector):/.test(l));
  return { q: lines(r.stderr), o: lines(o.stderr) };
}

/** The incompatible feature bits' low word (dirty 0x1, corrupt 0x2, ...). */
export const incompatLo = (path: string): number => readFileSync(path).readUInt32BE(76);

/**
 * Runs qemu-io commands and then ends qemu-io without closing the image (`sigraise 9`, or `abort`), as the
 * iotests do to leave a lazy-refcounts image dirty. qemu-io's own exit status is that of the signal.
 */
export function qemuIoCrash(img: string, cmds: string[], end: 'sigraise 9' | 'abort' = 'sigraise 9'): void {
  const args: string[] = [];
  for (const c of [...cmds, end]) args.push('-c', c);
  const r = spawnSync('qemu-io', [...args, img], { encoding: 'utf8', timeout: 60_000 });
  assert.ok(r.signal === 'SIGKILL' || r.signal === 'SIGABRT', `qemu-io was to be killed: ${r.status} ${r.stderr}`);
}
