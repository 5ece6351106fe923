/**
 * Helpers for benchmarks (`npm run bench`, runner in scripts/bench.mjs).
 *
 * Conventions: a benchmark is `bench/NAME.bench.ts` whose default export is `async (ctx: BenchContext) =>
 * BenchRow[]`. Each row compares our figure with qemu-img's on the same files in the same run. Make big files
 * under `ctx.tmp` (removed afterwards); never commit images. Keep each file's total run under a few minutes.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync } from 'node:fs';

export interface BenchRow {
  name: string;
  ours: number;
  theirs: number;
  /** e.g. 'ms', 'MiB/s', 'IOPS'. */
  unit: string;
  better: 'lower' | 'higher';
  /** ours / theirs. */
  ratio: number;
  /** Pass when ratio <= target (better: 'lower') or ratio >= target (better: 'higher'). */
  target?: number;
  /** Peak resident memory in MiB, where measured. */
  oursMemMiB?: number;
  theirsMemMiB?: number;
  /** Shown in the notes column, e.g. why a figure is missing. */
  note?: string;
}

export interface BenchContext {
  /** A scratch folder for this benchmark file, removed after it. */
  tmp: string;
  /** Absolute path of the repository (dist/cli.js is built before benchmarks run). */
  repo: string;
  cli: string;
  /** Prints a progress line (stderr, so the table stays clean). */
  log(msg: string): void;
}

/** Builds a row, computing the ratio. */
export function row(r: Omit<BenchRow, 'ratio'>): BenchRow {
  return { ...r, ratio: r.theirs > 0 ? r.ours / r.theirs : NaN };
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

export interface Timing {
  /** Median wall time over the measured runs, in ms. */
  ms: number;
  runs: number[];
  /** Largest peak RSS over the runs in MiB, when /usr/bin/time is available. */
  maxRssMiB?: number;
  /** Median CPU time (user + system) in ms, when /usr/bin/time is available: on a busy machine, wall time is mostly waiting. */
  cpuMs?: number;
}

const GNU_TIME = '/usr/bin/time';

/**
 * Times a command like hyperfine: `warmup` unmeasured runs, then `runs` measured ones; returns the median.
 * Throws with the command's stderr if it fails. Peak memory comes from GNU time when installed.
 */
export function timeCommand(cmd: string, args: string[], opts: { runs?: number; warmup?: number; before?: () => void; env?: NodeJS.ProcessEnv } = {}): Timing {
  const runs = opts.runs ?? 5;
  const useTime = existsSync(GNU_TIME);
  const times: number[] = [];
  const cpu: number[] = [];
  let maxRss: number | undefined;
  for (let i = 0; i < (opts.warmup ?? 1) + runs; i++) {
    opts.before?.();
    const t0 = process.hrtime.bigint();
    const r = useTime
      ? spawnSync(GNU_TIME, ['-f', 'Q2I_MAXRSS %M Q2I_CPU %U %S', cmd, ...args], { encoding: 'utf8', maxBuffer: 1 << 30, env: opts.env })
      : spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 30, env: opts.env });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${(r.stderr ?? '').slice(-500)}`);
    if (i < (opts.warmup ?? 1)) continue;
    times.push(ms);
    const m = /Q2I_MAXRSS (\d+)/.exec(r.stderr ?? '');
    if (m) maxRss = Math.max(maxRss ?? 0, Number(m[1]) / 1024);
    const c = /Q2I_CPU ([\d.]+) ([\d.]+)/.exec(r.stderr ?? '');
    if (c) cpu.push((Number(c[1]) + Number(c[2])) * 1000);
  }
  return { ms: median(times), runs: times, maxRssMiB: maxRss, cpuMs: cpu.length ? median(cpu) : undefined };
}

/**
 * The environment our CLI is timed in: this one without NODE_EXTRA_CA_CERTS. With that variable set (as on
 * machines behind a TLS proxy) every Node process parses a CA bundle at start, 40-50 ms here, before any of
 * our code runs; the CLI never opens a TLS connection. `startupNote` shows the cost in the results.
 */
export function cliEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_EXTRA_CA_CERTS;
  return env;
}

/** Times `node dist/cli.js ARGS` in cliEnv(). */
export function timeCli(cli: string, args: string[], opts: { runs?: number; before?: () => void } = {}): Timing {
  return timeCommand(process.execPath, [cli, ...args], { ...opts, env: cliEnv() });
}

/** Node's bare start-up (`node -e 0`), in cliEnv() and, when it differs, in this environment: for the notes. */
export function startupNote(): string {
  const bare = timeCommand(process.execPath, ['-e', '0'], { runs: 5, env: cliEnv() }).ms;
  let note = `Node start-up alone ${bare.toFixed(0)} ms`;
  if (process.env.NODE_EXTRA_CA_CERTS !== undefined) {
    const withCa = timeCommand(process.execPath, ['-e', '0'], { runs: 5 }).ms;
    note += ` (${withCa.toFixed(0)} ms with this machine's NODE_EXTRA_CA_CERTS, unset for our runs)`;
  }
  return note;
}

/** Times an in-process async function: median of `runs` after `warmup`, in ms. */
export async function timeAsync(fn: () => Promise<unknown>, opts: { runs?: number; warmup?: number } = {}): Promise<Timing> {
  const times: number[] = [];
  for (let i = 0; i < (opts.warmup ?? 1) + (opts.runs ?? 5); i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (i >= (opts.warmup ?? 1)) times.push(ms);
  }
  return { ms: median(times), runs: times };
}

export interface QemuBenchParams {
  count: number;
  depth: number;
  /** Request size in bytes (-s). */
  size: number;
  /** Distance between request starts (-S), default `size`; offsets wrap modulo the image size as in qemu-img 7.2. */
  step?: number;
  offset?: number;
  format?: 'qcow2' | 'raw';
}

/** The offsets `qemu-img bench` reads, in order (7.2: offset += step; offset %= image_size). */
export function benchOffsets(p: QemuBenchParams, imageSize: number): number[] {
  const out: number[] = [];
  let off = p.offset ?? 0;
  for (let i = 0; i < p.count; i++) {
    out.push(off);
    off = (off + (p.step ?? p.size)) % imageSize;
  }
  return out;
}

/** Runs `qemu-img bench` (read, page cache on: -t writeback) `runs` times; returns the median seconds. */
export function qemuImgBench(image: string, p: QemuBenchParams, runs = 3): { seconds: number; all: number[] } {
  const args = ['bench', '-f', p.format ?? 'qcow2', '-t', 'writeback', '-c', String(p.count), '-d', String(p.depth), '-s', String(p.size)];
  if (p.step !== undefined) args.push('-S', String(p.step));
  if (p.offset !== undefined) args.push('-o', String(p.offset));
  args.push(image);
  const all: number[] = [];
  for (let i = 0; i < runs + 1; i++) {
    const r = spawnSync('qemu-img', args, { encoding: 'utf8' });
    const m = /Run completed in ([\d.]+) seconds/.exec(r.stdout);
    if (r.status !== 0 || !m) throw new Error(`qemu-img ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
    if (i > 0) all.push(Number(m[1])); // the first run warms up
  }
  return { seconds: median(all), all };
}

/** Runs qemu-img with the given arguments and throws on failure. */
export function qemuImg(...args: string[]): string {
  const r = spawnSync('qemu-img', args, { encoding: 'utf8', maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`qemu-img ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

/** A big image whose metadata is preallocated (L1/L2/refcounts all written), with no data. */
export function createPreallocatedImage(path: string, size: string, clusterSize = 65536): void {
  qemuImg('create', '-q', '-f', 'qcow2', '-o', `preallocation=metadata,cluster_size=${clusterSize}`, path, size);
}

/** A big sparse image: nothing allocated. */
export function createSparseImage(path: string, size: string, opts = 'cluster_size=65536'): void {
  qemuImg('create', '-q', '-f', 'qcow2', '-o', opts, path, size);
}

/**
 * A qcow2 image full of real, incompressible data: `sizeMiB` MiB from /dev/urandom in a raw file, converted by
 * qemu-img (every cluster allocated, nothing sparse). The raw file is removed afterwards.
 */
export function createDataImage(path: string, sizeMiB: number, rawScratch: string, clusterSize = 65536): void {
  const r = spawnSync('sh', ['-c', `head -c ${sizeMiB}M /dev/urandom > '${rawScratch}'`]);
  if (r.status !== 0) throw new Error(`making ${rawScratch} failed: ${r.stderr}`);
  qemuImg('convert', '-q', '-f', 'raw', '-O', 'qcow2', '-o', `cluster_size=${clusterSize}`, rawScratch, path);
  spawnSync('rm', ['-f', rawScratch]);
}

/** Reads a file once through the page cache so both sides start warm. Reads every byte: not for big sparse files. */
export function warmPageCache(path: string): void {
  const fd = openSync(path, 'r');
  const buf = Buffer.allocUnsafe(8 << 20);
  try {
    let pos = 0;
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n <= 0) break;
      pos += n;
    }
  } finally {
    closeSync(fd);
  }
}

export const MiB = 1 << 20;

/** A command to time: `sh -c SCRIPT` (so redirections work the same on both sides), with an optional environment. */
export interface ShellCommand {
  script: string;
  env?: NodeJS.ProcessEnv;
}

export interface PairTiming {
  /** Medians in ms. */
  ours: number;
  theirs: number;
  oursRuns: number[];
  theirsRuns: number[];
  oursMemMiB?: number;
  theirsMemMiB?: number;
  /** Median CPU time (user + system) in ms, where GNU time measured it. */
  oursCpuMs?: number;
  theirsCpuMs?: number;
}

/**
 * Ours and the reference, each warmed up once, then timed in turn `runs` times, so both meet the same load on a
 * shared machine; medians and peak memory (GNU time).
 */
export function timeAlternately(ours: ShellCommand, theirs: ShellCommand, runs = 5): PairTiming {
  const one = (c: ShellCommand, warmup = 0): Timing => timeCommand('sh', ['-c', c.script], { runs: 1, warmup, env: c.env });
  one(theirs, 1);
  one(ours, 1);
  const o: Timing[] = [];
  const t: Timing[] = [];
  for (let i = 0; i < runs; i++) {
    t.push(one(theirs));
    o.push(one(ours));
  }
  const peak = (xs: Timing[]): number | undefined => (xs.some((x) => x.maxRssMiB !== undefined) ? Math.max(...xs.map((x) => x.maxRssMiB ?? 0)) : undefined);
  const cpu = (xs: Timing[]): number | undefined => (xs.every((x) => x.cpuMs !== undefined) ? median(xs.map((x) => x.cpuMs!)) : undefined);
  return {
    ours: median(o.map((x) => x.ms)),
    theirs: median(t.map((x) => x.ms)),
    oursRuns: o.map((x) => x.ms),
    theirsRuns: t.map((x) => x.ms),
    oursMemMiB: peak(o),
    theirsMemMiB: peak(t),
    oursCpuMs: cpu(o),
    theirsCpuMs: cpu(t),
  };
}

/** Shell-quotes one argument. */
export function q(arg: string): string {
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}
