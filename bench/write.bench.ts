/**
 * Issue #3's write benchmark: random 4 KiB writes through writeAt against `qemu-img bench -w` with the same
 * count, size, step and depth (page cache on for both: -t writeback), on a fresh 1 GiB image (allocating
 * writes: every request lands in a new cluster) and then on the written image (overwrites in place).
 * The step is an odd multiple of the cluster size, so successive offsets (offset += step, mod image size)
 * scatter over the image and never revisit a cluster. Both figures leave out the final metadata flush at close
 * (qemu-img bench times only the requests). Every measured run starts after `sync`.
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { openImage } from '../src/qcow2';
import { benchOffsets, median, MiB, qemuImg, row, type BenchContext, type BenchRow, type QemuBenchParams } from './lib';

const IMAGE_BYTES = 1024 * MiB;
const COUNT = 16384;
const STEP = 65536 * 4099; // odd multiple of 64 KiB: coprime with the image's 2^14 clusters
const RUNS = 3;

function qemuBenchWrite(image: string, p: QemuBenchParams): number {
  const args = [
    'bench',
    '-w',
    '-f',
    'qcow2',
    '-t',
    'writeback',
    '-c',
    String(p.count),
    '-d',
    String(p.depth),
    '-s',
    String(p.size),
    '-S',
    String(p.step),
    image,
  ];
  const r = spawnSync('qemu-img', args, { encoding: 'utf8' });
  const m = /Run completed in ([\d.]+) seconds/.exec(r.stdout);
  if (r.status !== 0 || !m) throw new Error(`qemu-img ${args.join(' ')} failed: ${r.stderr || r.stdout}`);
  return Number(m[1]);
}

async function oursWrite(image: string, offsets: number[], size: number, depth: number): Promise<number> {
  const dev = await openImage(image);
  try {
    const t0 = process.hrtime.bigint();
    let next = 0;
    const worker = async (): Promise<void> => {
      const buf = new Uint8Array(size).fill(0xa5);
      while (next < offsets.length) await dev.writeAt(buf, offsets[next++]);
    };
    await Promise.all(Array.from({ length: depth }, worker));
    return Number(process.hrtime.bigint() - t0) / 1e9;
  } finally {
    await dev.close(); // flushMeta, as QEMU flushes at close: outside the timing on both sides
  }
}

export default async function writeBench(ctx: BenchContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const image = join(ctx.tmp, 'w.qcow2');
  const fresh = (): void => {
    rmSync(image, { force: true });
    qemuImg('create', '-q', '-f', 'qcow2', '-o', 'cluster_size=65536', image, String(IMAGE_BYTES));
  };
  for (const depth of [1, 16]) {
    const p: QemuBenchParams = { count: COUNT, depth, size: 4096, step: STEP };
    const offsets = benchOffsets(p, IMAGE_BYTES);
    const res = { allocOurs: [] as number[], allocTheirs: [] as number[], overOurs: [] as number[], overTheirs: [] as number[] };
    // Interleave ours and theirs so machine load affects both alike.
    // Each measured run starts after `sync`, so neither side pays for the other's dirty page cache.
    const settle = (): void => void spawnSync('sync');
    for (let i = 0; i < RUNS; i++) {
      ctx.log(`writeAt random 4 KiB QD${depth}, run ${i + 1}/${RUNS}`);
      fresh();
      settle();
      res.allocTheirs.push(qemuBenchWrite(image, p));
      settle();
      res.overTheirs.push(qemuBenchWrite(image, p));
      fresh();
      settle();
      res.allocOurs.push(await oursWrite(image, offsets, 4096, depth));
      settle();
      res.overOurs.push(await oursWrite(image, offsets, 4096, depth));
    }
    const iops = (xs: number[]) => COUNT / median(xs);
    rows.push(
      row({
        name: `writeAt random 4 KiB allocating, QD${depth}`,
        ours: iops(res.allocOurs),
        theirs: iops(res.allocTheirs),
        unit: 'IOPS',
        better: 'higher',
        target: 0.5,
      }),
    );
    rows.push(
      row({
        name: `writeAt random 4 KiB overwrite, QD${depth}`,
        ours: iops(res.overOurs),
        theirs: iops(res.overTheirs),
        unit: 'IOPS',
        better: 'higher',
        target: 0.5,
      }),
    );
  }
  rmSync(image, { force: true });
  return rows;
}
