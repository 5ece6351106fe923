/**
 * Issue #2's read-path benchmark, ours against qemu-img on the same files in the same run:
 * - readAt: sequential 1 MiB and scattered 4 KiB reads at queue depth 1 and 16, against `qemu-img bench` with
 *   the same count, size, step and depth, on a 1 GiB image full of random data, page cache warm for both.
 *   qemu-img bench has no random mode: the 4 KiB reads use a large odd step (-S) so that successive offsets
 *   (offset += step, mod image size) scatter over the whole image; our side reads exactly the same offsets.
 * - convert -O raw of that 1 GiB image, against `qemu-img convert -O raw`.
 * - map --output=json of a 256 GiB metadata-preallocated image, against `qemu-img map --output=json`.
 */
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { openImage } from '../src/qcow2';
import {
  benchOffsets,
  createDataImage,
  createPreallocatedImage,
  median,
  MiB,
  qemuImgBench,
  row,
  startupNote,
  timeCli,
  timeCommand,
  warmPageCache,
  type BenchContext,
  type BenchRow,
  type QemuBenchParams,
} from './lib';

const IMAGE_MIB = 1024;
const SCATTER_STEP = 4096 * 40961; // odd multiple of 4 KiB: coprime with the image's 2^18 blocks, visits distinct blocks

/** Reads `offsets` through readAt with `depth` requests in flight; returns elapsed ms. */
async function readAtRun(path: string, offsets: number[], size: number, depth: number): Promise<number> {
  const dev = await openImage(path, { readOnly: true });
  try {
    let next = 0;
    const t0 = process.hrtime.bigint();
    const worker = async () => {
      const buf = new Uint8Array(size);
      while (next < offsets.length) await dev.readAt(buf, offsets[next++]);
    };
    await Promise.all(Array.from({ length: depth }, worker));
    return Number(process.hrtime.bigint() - t0) / 1e6;
  } finally {
    await dev.close();
  }
}

async function readRows(ctx: BenchContext, image: string): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const cases: { label: string; p: QemuBenchParams; unit: 'MiB/s' | 'IOPS'; target?: number }[] = [];
  for (const depth of [1, 16]) {
    cases.push({ label: `readAt sequential 1 MiB, QD${depth}`, p: { count: IMAGE_MIB, depth, size: MiB }, unit: 'MiB/s', target: 0.8 });
  }
  for (const depth of [1, 16]) {
    cases.push({ label: `readAt scattered 4 KiB, QD${depth}`, p: { count: 32768, depth, size: 4096, step: SCATTER_STEP }, unit: 'IOPS' });
  }
  for (const c of cases) {
    ctx.log(c.label);
    warmPageCache(image);
    const theirs = qemuImgBench(image, c.p);
    const offsets = benchOffsets(c.p, IMAGE_MIB * MiB);
    // Like qemu-img bench's figure, ours excludes opening the image: median of 3 runs after one warm-up.
    const runs: number[] = [];
    for (let i = 0; i < 4; i++) {
      const ms = await readAtRun(image, offsets, c.p.size, c.p.depth);
      if (i > 0) runs.push(ms);
    }
    const oursSec = median(runs) / 1000;
    const per = (sec: number) => (c.unit === 'MiB/s' ? (c.p.count * c.p.size) / MiB / sec : c.p.count / sec);
    rows.push(row({ name: c.label, ours: per(oursSec), theirs: per(theirs.seconds), unit: c.unit, better: 'higher', target: c.target }));
  }
  return rows;
}

function commandRow(ctx: BenchContext, name: string, ours: string[], theirs: string[], target: number, before?: () => void, note?: string): BenchRow {
  ctx.log(name);
  const q = timeCommand('qemu-img', theirs, { runs: 5, before });
  try {
    const o = timeCli(ctx.cli, ours, { runs: 5, before });
    return row({ name, ours: o.ms, theirs: q.ms, unit: 'ms', better: 'lower', target, oursMemMiB: o.maxRssMiB, theirsMemMiB: q.maxRssMiB, note });
  } catch (err) {
    const msg = (err as Error).message.split('\n').pop() ?? '';
    return row({ name, ours: NaN, theirs: q.ms, unit: 'ms', better: 'lower', target, theirsMemMiB: q.maxRssMiB, note: `ours failed: ${msg.slice(0, 100)}` });
  }
}

export default async function (ctx: BenchContext): Promise<BenchRow[]> {
  const image = join(ctx.tmp, 'data-1g.qcow2');
  ctx.log(`making a ${IMAGE_MIB} MiB qcow2 full of random data`);
  createDataImage(image, IMAGE_MIB, join(ctx.tmp, 'data.raw'));
  const rows = await readRows(ctx, image);

  const out = join(ctx.tmp, 'out.raw');
  const clean = () => existsSync(out) && rmSync(out);
  const warm = () => {
    clean();
    warmPageCache(image);
  };
  rows.push(
    commandRow(ctx, 'convert -O raw, 1 GiB of data', ['convert', '-O', 'raw', image, out], ['convert', '-f', 'qcow2', '-O', 'raw', image, out], 1.5, warm),
  );
  clean();
  rmSync(image);

  const big = join(ctx.tmp, 'prealloc-256g.qcow2');
  ctx.log('making a 256 GiB metadata-preallocated image');
  createPreallocatedImage(big, '256G');
  rows.push(
    commandRow(
      ctx,
      'map --output=json, 256 GiB preallocated',
      ['map', '--output=json', big],
      ['map', '-f', 'qcow2', '--output=json', big],
      1.5,
      undefined,
      startupNote(),
    ),
  );
  // No warmPageCache here: the file is 256 GiB long (sparse); timeCommand's warm-up run reads the metadata.
  return rows;
}
