/**
 * Issue #12's search benchmark, ours beside the reference on the same files, after a warm-up of each, the two
 * timed in turn RUNS times (so both meet the same load on a shared machine) and the medians compared:
 * - 1 GiB of incompressible allocated data, a 16-byte pattern that is absent: `find` on the qcow2 against
 *   `grep -c -F -a` on the same data converted to raw (only the grep is timed); target ours/grep <= 1.0.
 * - a 4 TiB sparse image with four allocated regions, searched end to end: target under 1 s (the "theirs"
 *   column is that 1 s budget: converting 4 TiB to grep it is not a comparison anyone would run).
 * - a 256 MiB zstd-compressed image: `find` against `qemu-img convert -O raw` + grep.
 */
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { createDataImage, median, qemuImg, row, startupNote, timeCommand, cliEnv, warmPageCache, type BenchContext, type BenchRow } from './lib';

const PATTERN = 'Zq7#absent!Pat16';
const RUNS = 3;

/** `find` exits 2 when nothing is found, grep 1: both are success here. */
function timeShell(script: string, env?: NodeJS.ProcessEnv, warmup = 1) {
  return timeCommand('sh', ['-c', `${script}; r=$?; [ $r -le 2 ]`], { runs: 1, warmup, env });
}

/** Ours and theirs, each warmed up once, then timed alternately: medians (ms) and peak memory (MiB). */
function timePair(ours: string, theirs: string) {
  timeShell(theirs, undefined, 0);
  timeShell(ours, cliEnv(), 0);
  const o: number[] = [];
  const t: number[] = [];
  let oursMem = 0;
  let theirsMem = 0;
  for (let i = 0; i < RUNS; i++) {
    const a = timeShell(theirs, undefined, 0);
    const b = timeShell(ours, cliEnv(), 0);
    t.push(a.ms);
    o.push(b.ms);
    theirsMem = Math.max(theirsMem, a.maxRssMiB ?? 0);
    oursMem = Math.max(oursMem, b.maxRssMiB ?? 0);
  }
  return { ours: median(o), theirs: median(t), oursMemMiB: oursMem || undefined, theirsMemMiB: theirsMem || undefined };
}

/** Which zstd decoder the timed Node has (Node 20 has no native one: fzstd, in JavaScript, decodes there). */
function zstdNote(): string {
  return 'zstdDecompressSync' in zlib ? `zstd decoded by Node ${process.version}'s zlib` : `zstd decoded by fzstd (Node ${process.version} has no zlib zstd)`;
}

export default async function (ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const node = process.execPath;
  const data = join(ctx.tmp, 'data-1g.qcow2');
  const raw = join(ctx.tmp, 'data-1g.raw');
  ctx.log('making a 1 GiB qcow2 of random data and its raw conversion');
  createDataImage(data, 1024, join(ctx.tmp, 'scratch.raw'));
  qemuImg('convert', '-q', '-O', 'raw', data, raw);
  warmPageCache(data);
  warmPageCache(raw);
  const flat = timePair(`'${node}' '${ctx.cli}' find '${data}' '${PATTERN}' >/dev/null`, `grep -c -F -a '${PATTERN}' '${raw}' >/dev/null`);
  rows.push(
    row({
      name: 'find 16-byte absent pattern, 1 GiB data (vs grep -c -F -a on raw)',
      ...flat,
      unit: 'ms',
      better: 'lower',
      target: 1.0,
      note: startupNote(),
    }),
  );

  const huge = join(ctx.tmp, 'huge.qcow2');
  qemuImg('create', '-q', '-f', 'qcow2', huge, '4T');
  const { spawnSync } = await import('node:child_process');
  spawnSync('qemu-io', ['-c', 'write -P 1 0 1M', '-c', 'write -P 2 1T 1M', '-c', 'write -P 3 2T 1M', '-c', 'write -P 4 4095G 1M', huge]);
  const sparse = timeCommand('sh', ['-c', `'${node}' '${ctx.cli}' find '${huge}' '${PATTERN}' >/dev/null; [ $? -eq 2 ]`], { runs: RUNS, env: cliEnv() });
  rows.push(
    row({
      name: 'find in a 4 TiB sparse image, 4 allocated regions (vs 1 s budget)',
      ours: sparse.ms,
      theirs: 1000,
      unit: 'ms',
      better: 'lower',
      target: 1.0,
      oursMemMiB: sparse.maxRssMiB,
    }),
  );

  const zstd = join(ctx.tmp, 'z256.qcow2');
  const zraw = join(ctx.tmp, 'z256.raw');
  const src = join(ctx.tmp, 'z-src.raw');
  // Half random, half text-like: compressible enough that qemu keeps the clusters compressed.
  spawnSync('sh', ['-c', `head -c 128M /dev/urandom > '${src}'; yes 'a line of guest log text 0123456789' | head -c 128M >> '${src}'`]);
  qemuImg('convert', '-q', '-c', '-f', 'raw', '-O', 'qcow2', '-o', 'compression_type=zstd', src, zstd);
  warmPageCache(zstd);
  const z = timePair(
    `'${node}' '${ctx.cli}' find '${zstd}' '${PATTERN}' >/dev/null`,
    `qemu-img convert -O raw '${zstd}' '${zraw}' && grep -c -F -a '${PATTERN}' '${zraw}' >/dev/null`,
  );
  rows.push(row({ name: 'find in a 256 MiB zstd image (vs qemu-img convert + grep)', ...z, unit: 'ms', better: 'lower', note: zstdNote() }));
  return rows;
}
