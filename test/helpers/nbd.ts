/** QEMU's own reading of a persistent dirty bitmap: qemu-nbd exports it as a metadata context, nbdinfo lists it. */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export interface Range {
  start: number;
  length: number;
}

export const haveNbdinfo = spawnSync('nbdinfo', ['--version']).status === 0;

/** The dirty extents of bitmap `name` in `image`, through `qemu-nbd -r -B name` and `nbdinfo --map`. */
export async function nbdDirty(image: string, name: string, sock: string): Promise<Range[]> {
  const server = spawn('qemu-nbd', ['-r', '-B', name, '-k', sock, '-f', 'qcow2', image], { stdio: 'ignore' });
  try {
    for (let i = 0; i < 100 && !existsSync(sock); i++) await new Promise((r) => setTimeout(r, 50));
    const r = spawnSync('nbdinfo', ['--json', `--map=qemu:dirty-bitmap:${name}`, `nbd+unix:///?socket=${sock}`], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`nbdinfo failed: ${r.stderr}`);
    const extents = JSON.parse(r.stdout) as Array<{ offset: number; length: number; type: number }>;
    return extents.filter((e) => e.type === 1).map((e) => ({ start: e.offset, length: e.length }));
  } finally {
    server.kill();
    await new Promise((r) => server.once('exit', r));
  }
}

/** A model of a bitmap: `ranges` plus every granule the writes [offset, offset + length) touch, merged. */
export function markedRanges(ranges: Range[], writes: Array<{ offset: number; length: number }>, granularity: number, diskSize: number): Range[] {
  const spans = [
    ...ranges.map((r) => [r.start, r.start + r.length]),
    ...writes
      .filter((w) => w.length > 0)
      .map((w) => [Math.floor(w.offset / granularity) * granularity, Math.min(diskSize, Math.ceil((w.offset + w.length) / granularity) * granularity)]),
  ].sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  for (const [s, e] of spans) {
    const last = out[out.length - 1];
    if (last && s <= last.start + last.length) last.length = Math.max(last.length, e - last.start);
    else out.push({ start: s, length: e - s });
  }
  return out;
}
