/**
 * Issue #13's owner() index on a big file system (`npm run bench -- fs`): a 10 GiB sparse ext4 with 100,000 files
 * in a GPT partition, in qcow2 (bench/fs-fixtures.ts). The one-time index (a fresh reader each run, median of 3;
 * #13 asks for the figure; there is no reference tool) and the time per lookup after it.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { openImage } from '../src/qcow2';
import { detectDisk, diskDevice, findVolume, openFs } from '../src/guestfs';
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
    // Memory the index holds: heap and array buffers of one reader after indexing, less the same before (with a
    // full GC before each reading: the flag set at run time gives a gc function to a new context).
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage();
    const fs = await openFs(vol.device, type);
    await fs.owner(Math.floor(vol.device.size / 2));
    gc();
    const after = process.memoryUsage();
    if (!fs.info) throw new Error('no reader'); // keeps the reader alive past the GC above
    const heldMiB = (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / 2 ** 20;
    return [
      row({
        name: `ext4 10 GiB, ${BIG_FS_FILES.toLocaleString('en')} files: owner() index (a figure; no reference tool)`,
        ours: median(indexMs),
        theirs: NaN,
        unit: 'ms',
        better: 'lower',
        note: `runs ${indexMs.map((x) => x.toFixed(0)).join(', ')} ms, CPU ${median(figures.map((f) => f.indexCpuMs)).toFixed(0)} ms; the reader with its index holds ${heldMiB.toFixed(0)} MiB`,
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
