import { commands } from './commands/index';
import { UsageError } from './args';
import { Qcow2Error, printable } from '../qcow2';
import { GuestFsError } from '../guestfs/types';
import type { CliIo } from './command';

const PROG = 'qcow2-inspector';

function usage(): string {
  const lines = [`usage: ${PROG} COMMAND [options]`, '', 'Commands:'];
  for (const c of commands) lines.push(`  ${c.usage.padEnd(60)} ${c.summary}`);
  return lines.join('\n') + '\n';
}

/** Runs the CLI; returns the exit code. Never throws and never prints a stack trace. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    io.stdout.write(usage());
    return name ? 0 : 1;
  }
  const cmd = commands.find((c) => c.name === name);
  if (!cmd) {
    io.stderr.write(`${PROG}: unknown command '${name}' (try --help)\n`);
    return 1;
  }
  try {
    return await cmd.run(rest, io);
  } catch (err) {
    io.stderr.write(`${PROG}: ${describeError(err, cmd.usage)}\n`);
    return 1;
  }
}

function describeError(err: unknown, cmdUsage: string): string {
  if (err instanceof UsageError) return `${err.message}\nusage: ${PROG} ${cmdUsage}`;
  if (err instanceof Qcow2Error) return err.message;
  if (err instanceof GuestFsError) return printable(err.message, 1200);
  const e = err as NodeJS.ErrnoException;
  if (e?.code === 'EPIPE') return 'output closed';
  // Unexpected: still one line, but say it is a bug so it gets reported.
  return `internal error: ${e?.message?.split('\n')[0] ?? String(err)}`;
}

if (require.main === module) {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
  });
  main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin }).then(
    (code) => {
      process.exitCode = code;
    },
    () => {
      process.exitCode = 1;
    },
  );
}
