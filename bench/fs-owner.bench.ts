/**
 * Issue #13's owner() index on a big file system (`npm run bench -- fs`): a 10 GiB sparse ext4 with 100,000 files
 * in a GPT partition, in qcow2 (bench/fs-fixtures.ts). The one-time index (a fresh reader each run, median of 3;
 * #13 asks for the figure; there is no reference tool) and the time per lookup after it.
 */
import { openImage } from '../src/qcow2';
import { detectDisk, diskDevice, findVolume } from '../src/guestfs';
import { BIG_FS_FILES, makeBigExtDisk } from './fs-fixtures';
import { ownerFigures } from './fs-owner-measure';
import { median, row, warmPageCache, type BenchContext, type BenchRow } from './lib';

const RUNS = 3;

export default async function fsOwnerBench(ctx: BenchContext): Promise<BenchRow[]> {
  const qcow2 = makeBigExtDisk(ctx.tmp, ctx.log);
  warmPageCache(qcow2);
  const dev = await openImage(qcow2, { readOnly: true });
  try {
    const vol = findVolume(await detectDisk(diskDevice(dev)), '1');
    const type = vol.content.type;
    ctx.log('indexing');
    const figures = [];
    for (let i = 0; i < RUNS; i++) figures.push(await ownerFigures(vol.device, type));
    const indexMs = figures.map((f) => f.indexMs);
    const perLookup = figures.map((f) => f.perLookupUs);
    return [
      row({
        name: `ext4 10 GiB, ${BIG_FS_FILES.toLocaleString('en')} files: owner() index (a figure; no reference tool)`,
        ours: median(indexMs),
        theirs: NaN,
        unit: 'ms',
        better: 'lower',
        note: `runs ${indexMs.map((x) => x.toFixed(0)).join(', ')} ms, CPU ${median(figures.map((f) => f.indexCpuMs)).toFixed(0)} ms`,
      }),
      row({
        name: `ext4 10 GiB, ${BIG_FS_FILES.toLocaleString('en')} files: owner() per lookup (vs 1 ms budget)`,
        ours: median(perLookup),
        theirs: 1000,
        unit: 'µs',
        better: 'lower',
        target: 1,
        note: `10,000 seeded offsets, ${figures[0].files} in files`,
      }),
    ];
  } finally {
    await dev.close();
  }
}
