/** Shared by the iotests ports: byte patches, and running one command through qemu-img and our CLI on copies. */
import { strict as assert } from 'node:assert';
import { closeSync, copyFileSync, openSync, readFileSync, writeSync } from 'node:fs';
import { cli, qemuImg } from '../helpers/qemu';

export function patch(path: string, offset: number, bytes: Buffer): void {
  const fd = openSync(path, 'r+');
  try {
    writeSync(fd, bytes, 0, bytes.length, offset);
  } finally {
    closeSync(fd);
  }
}

export const be64 = (v: number | bigint): Buffer => {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(v));
  return b;
};

export const be32 = (v: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(v >>> 0);
  return b;
};

export const u64At = (path: string, off: number): number => Number(readFileSync(path).readBigUInt64BE(off));

export interface Both {
  q: { code: number; stdout: string; stderr: string };
  o: { code: number; stdout: string; stderr: string };
}

/**
 * Runs `qemu-img ARGS ref` and `our-cli ARGS ours`; stdout has each file's path replaced by IMG. With `same`,
 * asserts equal exit codes and stdout.
 */
export async function both(args: string[], ref: string, ours: string, same = true): Promise<Both> {
  const r = qemuImg([...args, ref], true);
  const o = await cli([...args, ours]);
  const out: Both = {
    q: { code: r.code, stdout: r.stdout.split(ref).join('IMG'), stderr: r.stderr },
    o: { code: o.code, stdout: o.stdout.toString().split(ours).join('IMG'), stderr: o.stderr },
  };
  if (same) {
    assert.equal(out.o.code, out.q.code, `${args.join(' ')}: exit code (qemu-img stderr: ${r.stderr}; ours: ${o.stderr})`);
    assert.equal(out.o.stdout, out.q.stdout, `${args.join(' ')}: stdout`);
  }
  return out;
}

/** Two copies of `src` (one for qemu-img, one for us), returned as [ref, ours]. */
export function copies(src: string, ref: string, ours: string): [string, string] {
  copyFileSync(src, ref);
  copyFileSync(src, ours);
  return [ref, ours];
}
