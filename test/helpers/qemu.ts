/** Test helpers: run qemu-img / qemu-io / our CLI, and make scratch folders. Fixtures are made at test time. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { main } from '../../src/cli/cli';
import { retryPbkdfBenchmark } from './pbkdf-retry';

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], input?: Uint8Array): RunResult {
  const r = spawnSync(cmd, args, { input, maxBuffer: 1 << 30, encoding: 'buffer', timeout: 300_000 });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, stdout: r.stdout.toString(), stderr: r.stderr.toString() };
}

/** Runs qemu-img; throws with its stderr unless `allowFail`. */
export function qemuImg(args: string[], allowFail = false): RunResult {
  const r = run('qemu-img', args);
  if (r.code !== 0 && !allowFail) throw new Error(`qemu-img ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r;
}

/**
 * qemu-img create of a LUKS-encrypted qcow2 with secret `secretId` = `passphrase`. QEMU times PBKDF2 on the CPU
 * and on a loaded machine sometimes fails with "Unable to get accurate CPU usage": that one failure is retried.
 */
export function createLuksImage(path: string, size: string, opts: { secretId?: string; passphrase?: string; extra?: string } = {}): void {
  const id = opts.secretId ?? 'sec0';
  const o = [`encrypt.format=luks,encrypt.key-secret=${id},encrypt.iter-time=10`, ...(opts.extra ? [opts.extra] : [])].join(',');
  retryPbkdfBenchmark(() => qemuImg(['create', '-q', '-f', 'qcow2', '--object', `secret,id=${id},data=${opts.passphrase ?? 'hunter2'}`, '-o', o, path, size]));
}

/** Runs qemu-io with each string as a -c command. */
export function qemuIo(image: string, cmds: string[], extra: string[] = []): RunResult {
  const args = [...extra];
  for (const c of cmds) args.push('-c', c);
  args.push(image);
  const r = run('qemu-io', args);
  if (r.code !== 0 || /error|failed/i.test(r.stdout + r.stderr)) throw new Error(`qemu-io ${cmds.join('; ')} failed: ${r.stdout}${r.stderr}`);
  return r;
}

/** A fresh scratch folder; remove it with `cleanup`. */
export function scratchDir(prefix = 'q2i-'): { dir: string; path(name: string): string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, path: (name: string) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Runs our CLI in-process (no build needed). stdout is returned as a Buffer for binary output. */
export async function cli(args: string[], stdin: Uint8Array = new Uint8Array(0)): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  stdout.on('data', (d: Buffer) => out.push(d));
  stderr.on('data', (d: Buffer) => err.push(d));
  const code = await main(args, { stdout, stderr, stdin: Readable.from([Buffer.from(stdin)]) });
  return { code, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString() };
}

/** Runs the built CLI (dist/cli.js) as a separate process, as users do. */
export function cliProcess(args: string[], input?: Uint8Array): RunResult {
  return run(process.execPath, [join(__dirname, '../../dist/cli.js'), ...args], input);
}

export function sha256File(path: string): string {
  return execFileSync('sha256sum', [path]).toString().split(' ')[0];
}
