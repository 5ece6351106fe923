/**
 * Issue #4's benchmark: `check` of a 256 GiB metadata-preallocated image (4M clusters of 64 KiB, every L2
 * entry and refcount written) against `qemu-img check` on the same file, with peak memory. Also a 1 GiB
 * image full of data, where the walk is dominated by data clusters rather than empty tables.
 */
import { join } from 'node:path';
import { createDataImage, createPreallocatedImage, row, timeCommand, type BenchContext, type BenchRow } from './lib';

function checkRow(ctx: BenchContext, name: string, image: string, target?: number, note?: string): BenchRow {
  ctx.log(name);
  const q = timeCommand('qemu-img', ['check', image], { runs: 3 });
  const o = timeCommand(process.execPath, [ctx.cli, 'check', image], { runs: 3 });
  return row({ name, ours: o.ms, theirs: q.ms, unit: 'ms', better: 'lower', target, oursMemMiB: o.maxRssMiB, theirsMemMiB: q.maxRssMiB, note });
}

export default async function (ctx: BenchContext): Promise<BenchRow[]> {
  const prealloc = join(ctx.tmp, 'prealloc-256g.qcow2');
  ctx.log('making a 256 GiB metadata-preallocated image');
  createPreallocatedImage(prealloc, '256G');
  const rows = [checkRow(ctx, 'check, 256 GiB metadata-preallocated (4M clusters)', prealloc, 1.5)];
  const data = join(ctx.tmp, 'data-1g.qcow2');
  ctx.log('making a 1 GiB image full of data');
  createDataImage(data, 1024, join(ctx.tmp, 'data.raw'));
  // No target: a 16K-cluster check takes milliseconds, so the figure is Node's start-up time.
  rows.push(checkRow(ctx, 'check, 1 GiB of data', data, undefined, 'mostly Node start-up'));
  return rows;
}
