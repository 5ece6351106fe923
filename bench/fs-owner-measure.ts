/** owner() figures for the `fs` benchmarks: the one-time index, then the time per lookup over seeded offsets. */
import { openFs, type ReadOnlyDevice } from '../src/guestfs';

export const LOOKUPS = 10_000;

/** Seeded offsets spread over a device (xorshift). */
export function seededOffsets(count: number, size: number, seed: number): number[] {
  let s = seed >>> 0 || 1;
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out.push(Math.floor(((s >>> 0) / 2 ** 32) * size));
  }
  return out;
}

/** The one-time owner index (ms), then the mean time per lookup (µs) over seeded offsets; counts what was hit. */
export async function ownerFigures(
  dev: ReadOnlyDevice,
  type: Parameters<typeof openFs>[1],
): Promise<{ indexMs: number; indexCpuMs: number; perLookupUs: number; files: number }> {
  const fs = await openFs(dev, type);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await fs.owner(Math.floor(dev.size / 2));
  const indexMs = performance.now() - t0;
  const c = process.cpuUsage(c0);
  const offsets = seededOffsets(LOOKUPS, dev.size, 13);
  let files = 0;
  const t1 = performance.now();
  for (const off of offsets) if ((await fs.owner(off)).kind === 'file') files++;
  return { indexMs, indexCpuMs: (c.user + c.system) / 1000, perLookupUs: ((performance.now() - t1) * 1000) / LOOKUPS, files };
}
