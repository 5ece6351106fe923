/**
 * The bytes a write puts in a cluster: the cluster's old contents where the write does not cover it (from the
 * cluster it replaces, a compressed cluster, or whatever the untouched subclusters read from now), then the new
 * data on top.
 */
import type { ClusterPlan } from './plan';
import type { WritableImage } from './writable-image';

/** Where a cluster's old contents are read from. */
export type ClusterSource = Pick<WritableImage, 'info' | 'readCompressedCluster' | 'readHost' | 'readBacking'>;

/** Builds the bytes [from, to) of the planned cluster, with `src` (the new data) at plan.a. */
export async function clusterBytes(dev: ClusterSource, plan: ClusterPlan, from: number, to: number, src: Uint8Array): Promise<Uint8Array> {
  if (from === plan.a && to === plan.b) return src;
  const out = new Uint8Array(to - from);
  const cf = plan.copyFrom;
  if (cf && 'compressed' in cf) {
    const cluster = await dev.readCompressedCluster(cf.compressed);
    out.set(cluster.subarray(from, to));
  } else if (cf) {
    await dev.readHost(out, cf.host + from);
  }
  // Pad the written subclusters' untouched parts from wherever they read from now.
  await pad(dev, plan, out, from, from, plan.a);
  await pad(dev, plan, out, from, plan.b, to);
  out.set(src, plan.a - from);
  return out;
}

async function pad(dev: ClusterSource, plan: ClusterPlan, out: Uint8Array, base: number, start: number, end: number): Promise<void> {
  const sub = dev.info.subclusterSize;
  for (let p = start; p < end;) {
    const s = Math.floor(p / sub);
    const stop = Math.min(end, (s + 1) * sub);
    const dst = out.subarray(p - base, stop - base);
    if (plan.states[s] === 'unalloc') await dev.readBacking(dst, plan.guest + p);
    else if (plan.states[s] === 'zero') dst.fill(0);
    p = stop;
  }
}
