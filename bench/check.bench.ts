/**
 * Issue #4's benchmark: `check` of a 256 GiB metadata-preallocated image (4M clusters of 64 KiB, every L2
 * entry and refcount written) against `qemu-img check` on the same file, with peak memory. Also a 1 GiB
 * image full of data, where the walk is dominated by data clusters rather than empty tables.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { cliEnv, createDataImage, createPreallocatedImage, median, row, timeCli, timeCommand, type BenchContext, type BenchRow } from './lib';

/** Median CPU time (user + system, ms) of a command over `runs` runs, from GNU time; undefined without it. */
function cpuMs(cmd: string, args: string[], runs = 5, env?: NodeJS.ProcessEnv): number | undefined {
  if (!existsSync('/usr/bin/time')) return undefined;
  const xs: number[] = [];
  for (let i = 0; i < runs; i++) {
    const r = spawnSync('/usr/bin/time', ['-f', 'Q2I_CPU %U %S', cmd, ...args], { encoding: 'utf8', env });
    const m = /Q2I_CPU ([\d.]+) ([\d.]+)/.exec(r.stderr ?? '');
    if (r.status !== 0 || !m) throw new Error(`${cmd} ${args.join(' ')} failed: ${(r.stderr ?? '').slice(-300)}`);
    xs.push((Number(m[1]) + Number(m[2])) * 1000);
  }
  return median(xs);
}

function checkRow(ctx: BenchContext, name: string, image: string, target?: number, note?: string): BenchRow {
  ctx.log(name);
  const q = timeCommand('qemu-img', ['check', image], { runs: 3 });
  const o = timeCli(ctx.cli, ['check', image], { runs: 3 });
  return row({ name, ours: o.ms, theirs: q.ms, unit: 'ms', better: 'lower', target, oursMemMiB: o.maxRssMiB, theirsMemMiB: q.maxRssMiB, note });
}

export default async function (ctx: BenchContext): Promise<BenchRow[]> {
  const prealloc = join(ctx.tmp, 'prealloc-256g.qcow2');
  ctx.log('making a 256 GiB metadata-preallocated image');
  createPreallocatedImage(prealloc, '256G');
  const rows = [checkRow(ctx, 'check, 256 GiB metadata-preallocated (4M clusters)', prealloc, 1.5)];
  // Wall time on a busy machine is mostly scheduling; CPU time compares the work done.
  const oursCpu = cpuMs(process.execPath, [ctx.cli, 'check', prealloc], 5, cliEnv());
  const theirsCpu = cpuMs('qemu-img', ['check', prealloc]);
  if (oursCpu !== undefined && theirsCpu !== undefined) {
    rows.push(
      row({
        name: 'check, 256 GiB preallocated, CPU time (user+sys)',
        ours: oursCpu,
        theirs: theirsCpu,
        unit: 'ms',
        better: 'lower',
        target: 1.5,
        note: 'includes Node start-up',
      }),
    );
  }
  const data = join(ctx.tmp, 'data-1g.qcow2');
  ctx.log('making a 1 GiB image full of data');
  createDataImage(data, 1024, join(ctx.tmp, 'data.raw'));
  // No target: a 16K-cluster check takes milliseconds, so the figure is Node's start-up time.
  rows.push(checkRow(ctx, 'check, 1 GiB of data', data, undefined, 'mostly Node start-up'));
  return rows;
}
