/** Shared by the iotests ports: byte patches, and running one command through qemu-img and our CLI on copies. */
import { strict as assert } from 'node:assert';
import { closeSync, copyFileSync, openSync, readFileSync, writeSync } from 'node:fs';
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
