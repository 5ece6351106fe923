/**
 * Fixtures for the custom editor's tests, made with qemu-img/qemu-io at test time. Plain Node only (no CLI
 * import), so the extension-host bundle can use them too.
 */
import { execFileSync } from 'node:child_process';
import { openSync, readSync, writeSync, closeSync, fstatSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';

function img(...args: string[]): string {
  return execFileSync('qemu-img', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}
function io(image: string, ...cmds: string[]): void {
  const out = execFileSync('qemu-io', [...cmds.flatMap((c) => ['-c', c]), image], { encoding: 'utf8' });
  if (/error|failed/i.test(out)) throw new Error(`qemu-io failed: ${out}`);
}

/** A three-layer chain: base.qcow2 ← mid.qcow2 ← top.qcow2, each with its own data; top has zero and compressed clusters. */
export function makeThreeLayerChain(dir: string): { base: string; mid: string; top: string } {
  const base = join(dir, 'base.qcow2');
  const mid = join(dir, 'mid.qcow2');
  const top = join(dir, 'top.qcow2');
  img('create', '-q', '-f', 'qcow2', base, '1G');
  io(base, 'write -P 0x11 0 4M', 'write -P 0x12 512M 1M');
  img('create', '-q', '-f', 'qcow2', '-b', 'base.qcow2', '-F', 'qcow2', mid);
  io(mid, 'write -P 0x22 64M 2M');
  img('create', '-q', '-f', 'qcow2', '-b', 'mid.qcow2', '-F', 'qcow2', top);
  io(top, 'write -P 0x33 128M 1M', 'write -z 256M 1M', 'write -c -P 0x44 300M 64k', 'write -P 0x55 0 512');
  return { base, mid, top };
}

function u64(b: Buffer, at: number): number {
  return b.readUInt32BE(at) * 2 ** 32 + b.readUInt32BE(at + 4);
}

/**
 * A 64 MiB image with one corruption (a data cluster whose refcount is 0) and one leak (a cluster past the
 * data with refcount 1 that nothing references), as qemu-img check reports them. With `corrupt` false, only the leak.
 */
export function makeCorrupted(path: string, corrupt = true): { corruptCluster: number; leakedCluster: number } {
  img('create', '-q', '-f', 'qcow2', path, '64M');
  io(path, 'write -P 0xab 0 128k');
  const map = JSON.parse(img('map', '--output=json', path)) as { start: number; data: boolean; offset?: number }[];
  const dataHost = map.find((m) => m.data && m.offset !== undefined)!.offset!;
  const fd = openSync(path, 'r+');
  try {
    const hdr = Buffer.alloc(104);
    readSync(fd, hdr, 0, 104, 0);
    const cs = 2 ** hdr.readUInt32BE(20);
    const reftable = u64(hdr, 48);
    const e = Buffer.alloc(8);
    readSync(fd, e, 0, 8, reftable);
    const refblock = u64(e, 0);
    const corruptCluster = dataHost / cs;
    const size = fstatSync(fd).size;
    const leakedCluster = Math.ceil(size / cs);
    ftruncateSync(fd, (leakedCluster + 1) * cs);
    const zero = Buffer.alloc(2);
    if (corrupt) writeSync(fd, zero, 0, 2, refblock + corruptCluster * 2);
    const one = Buffer.from([0, 1]);
    writeSync(fd, one, 0, 2, refblock + leakedCluster * 2);
    return { corruptCluster, leakedCluster };
  } finally {
    closeSync(fd);
  }
}

/** A metadata-preallocated image (every L2 table written) of the given size, e.g. '256G'. */
export function makePreallocated(path: string, size: string): void {
  img('create', '-q', '-f', 'qcow2', '-o', 'preallocation=metadata', path, size);
}
