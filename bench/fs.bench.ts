/**
 * Issue #13's guest file-system figures (`npm run bench -- fs`), on one GPT disk in qcow2 holding an ext4, a FAT32
 * and an NTFS (bench/fs-fixtures.ts), each with a 10,000-entry directory and a 50 MiB file; page cache warm.
 * Per file system:
 * - list /many with types and sizes in process (engine + reader, a fresh reader per run, so no directory cache
 *   carries over): target under 300 ms, the budget in the reference column;
 * - the whole `fs ls -l` CLI process beside `debugfs -R "ls -l"`, `mdir -a`, `ntfsls -l` on the raw file system;
 * - `fs cat` of the 50 MiB file to a host file beside `debugfs -R "dump"`, `mcopy`, `ntfscat` (target <= 1.5x);
 * - owner() per lookup after the one-time index (10,000 seeded offsets over the partition): target < 1 ms.
 * CLI rows time ours and the reference in turn, median of 5 after a warm-up of each, with peak memory.
 */
import { join } from 'node:path';
import { openImage } from '../src/qcow2';
import { detectDisk, diskDevice, findVolume, openFs, type GuestFs } from '../src/guestfs';
import { BIG_BYTES, ENTRIES, makeFsDisk, type FsFixture } from './fs-fixtures';
import { LOOKUPS, ownerFigures } from './fs-owner-measure';
import { cliEnv, median, MiB, q, row, startupNote, timeAlternately, warmPageCache, type BenchContext, type BenchRow, type PairTiming } from './lib';

const LIST_BUDGET_MS = 300;
const LOOKUP_BUDGET_US = 1000;

/** The reference listing and dump commands for one file system (on its raw image). */
function reference(fx: FsFixture, out: string): { list: string; dump: string; listName: string; dumpName: string } {
  const raw = q(fx.raw);
  switch (fx.label) {
    case 'ext4':
      return {
        listName: 'debugfs -R "ls -l"',
        list: `debugfs -R 'ls -l /many' ${raw} >/dev/null 2>&1`,
        dumpName: 'debugfs -R "dump"',
        dump: `debugfs -R ${q(`dump /big.bin ${out}`)} ${raw} >/dev/null 2>&1`,
      };
    case 'FAT32':
      return { listName: 'mdir -a', list: `mdir -a -i ${raw} ::/many >/dev/null`, dumpName: 'mcopy', dump: `mcopy -n -i ${raw} ::/big.bin ${q(out)}` };
    default:
      return { listName: 'ntfsls -l', list: `ntfsls -l -p /many ${raw} >/dev/null`, dumpName: 'ntfscat', dump: `ntfscat ${raw} /big.bin > ${q(out)}` };
  }
}

/** list + the sizes the directory does not record (ext keeps them in the inodes: one stat each). */
async function listWithSizes(fs: GuestFs): Promise<number> {
  const entries = await fs.list('/many');
  let total = 0;
  for (const e of entries) total += e.size ?? (await fs.stat(`/many/${e.name}`)).size;
  if (entries.length !== ENTRIES) throw new Error(`listed ${entries.length} entries, expected ${ENTRIES}`);
  return total;
}

const cpuNote = (p: PairTiming): string =>
  p.oursCpuMs === undefined ? 'no CPU figures (no GNU time)' : `CPU ours ${p.oursCpuMs.toFixed(0)} ms, reference ${p.theirsCpuMs?.toFixed(0)} ms`;

/** Like timeAsync (median of 5 after a warm-up), with the median CPU time of the process per run (all threads). */
async function timeInProcess(fn: () => Promise<unknown>, runs = 5): Promise<{ ms: number; runs: number[]; cpuMs: number }> {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i <= runs; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await fn();
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    if (i === 0) continue;
    wall.push(ms);
    cpu.push((c.user + c.system) / 1000);
  }
  return { ms: median(wall), runs: wall, cpuMs: median(cpu) };
}

const runsNote = (xs: number[]): string => `runs ${xs.map((x) => x.toFixed(0)).join(', ')} ms`;

export default async function fsBench(ctx: BenchContext): Promise<BenchRow[]> {
  const disk = makeFsDisk(ctx.tmp, ctx.log);
  warmPageCache(disk.qcow2);
  for (const p of disk.parts) warmPageCache(p.raw);
  const rows: BenchRow[] = [];
  const node = q(process.execPath);
  const cli = `${node} ${q(ctx.cli)}`;
  const out = join(ctx.tmp, 'out.bin');
  const dev = await openImage(disk.qcow2, { readOnly: true });
  try {
    const layout = await detectDisk(diskDevice(dev));
    for (const fx of disk.parts) {
      const vol = findVolume(layout, String(fx.part));
      const type = vol.content.type;
      const ref = reference(fx, out);
      ctx.log(`${fx.label}: listing`);
      const list = await timeInProcess(async () => listWithSizes(await openFs(vol.device, type)));
      rows.push(
        row({
          name: `${fx.label}: list 10,000 entries with types and sizes, in process (vs 300 ms budget)`,
          ours: list.ms,
          theirs: LIST_BUDGET_MS,
          unit: 'ms',
          better: 'lower',
          target: 1,
          note: `engine + reader, a fresh reader per run; ${runsNote(list.runs)}; CPU ${list.cpuMs.toFixed(0)} ms`,
        }),
      );
      const ls = timeAlternately({ script: `${cli} fs ls -l ${q(disk.qcow2)} ${fx.part}:/many >/dev/null`, env: cliEnv() }, { script: ref.list });
      rows.push(
        row({
          name: `${fx.label}: fs ls -l of 10,000 entries, CLI process (vs ${ref.listName} on the raw FS)`,
          ours: ls.ours,
          theirs: ls.theirs,
          unit: 'ms',
          better: 'lower',
          oursMemMiB: ls.oursMemMiB,
          theirsMemMiB: ls.theirsMemMiB,
          note: `ours ${runsNote(ls.oursRuns)}; ${cpuNote(ls)}`,
        }),
      );

      ctx.log(`${fx.label}: reading 50 MiB`);
      const cat = timeAlternately(
        { script: `${cli} fs cat ${q(disk.qcow2)} ${fx.part}:/big.bin > ${q(out)}`, env: cliEnv() },
        { script: `rm -f ${q(out)}; ${ref.dump}` },
      );
      const inProcess = await timeInProcess(async () => readWhole(await openFs(vol.device, type)));
      // #13 sets the 1.5x target against debugfs; FAT and NTFS are reported beside their tools.
      const target = fx.label === 'ext4' ? 1.5 : undefined;
      rows.push(
        row({
          name: `${fx.label}: fs cat a 50 MiB file to a host file (vs ${ref.dumpName} on the raw FS)`,
          ours: cat.ours,
          theirs: cat.theirs,
          unit: 'ms',
          better: 'lower',
          target,
          oursMemMiB: cat.oursMemMiB,
          theirsMemMiB: cat.theirsMemMiB,
          note: `ours ${runsNote(cat.oursRuns)}; in process (reader.read, 4 MiB pieces) ${inProcess.ms.toFixed(0)} ms, CPU ${inProcess.cpuMs.toFixed(0)} ms`,
        }),
        row({
          name: `${fx.label}: fs cat a 50 MiB file, CPU time user+sys (vs ${ref.dumpName})`,
          ours: cat.oursCpuMs ?? NaN,
          theirs: cat.theirsCpuMs ?? NaN,
          unit: 'ms',
          better: 'lower',
          // A figure: #13's 1.5x target is on the time the read takes (the row above).
          note: 'includes Node start-up',
        }),
      );

      ctx.log(`${fx.label}: owner index and lookups`);
      const own = await ownerFigures(vol.device, type);
      rows.push(
        row({
          name: `${fx.label}: owner() per lookup after indexing (vs 1 ms budget)`,
          ours: own.perLookupUs,
          theirs: LOOKUP_BUDGET_US,
          unit: 'µs',
          better: 'lower',
          target: 1,
          note: `index ${own.indexMs.toFixed(0)} ms, CPU ${own.indexCpuMs.toFixed(0)} ms (10,000+ files); ${LOOKUPS} seeded offsets, ${own.files} in files`,
        }),
      );
    }
  } finally {
    await dev.close();
  }
  rows[1].note += `; ${startupNote()}`;
  return rows;
}

/** Reads /big.bin in 4 MiB pieces, as `fs cat` does, and checks the length. */
async function readWhole(fs: GuestFs): Promise<void> {
  let got = 0;
  for (let at = 0; ; at += 4 * MiB) {
    const buf = await fs.read('/big.bin', at, 4 * MiB);
    got += buf.length;
    if (buf.length < 4 * MiB) break;
  }
  if (got !== BIG_BYTES) throw new Error(`read ${got} bytes of /big.bin, expected ${BIG_BYTES}`);
}
