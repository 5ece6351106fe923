import { parseArgs, requirePositionals, UsageError } from '../args';
import { writeOut, type CliCommand } from '../command';
import { openImage, Qcow2Dev, Qcow2Error } from '../../qcow2';
import { snapshotJson, snapshotRow } from '../format-info';

/**
 * `snapshot -l IMAGE` lists the internal snapshot table as qemu-img snapshot -l prints it; `snapshot -c NAME IMAGE`
 * creates an internal snapshot of the active disk as qemu-img snapshot -c does (silent, exit 0; engine:
 * write/snapshot-create.ts). Applying (-a) and deleting (-d) are not supported.
 */
export const snapshotCommand: CliCommand = {
  name: 'snapshot',
  usage: 'snapshot [-l | -c NAME] IMAGE',
  summary: 'list the internal snapshots (-l) or create one (-c NAME), as qemu-img snapshot; applying and deleting are not supported',
  async run(argv, io) {
    const args = parseArgs(argv, 'fcad', 'lUq');
    for (const op of ['a', 'd']) if (args.short.has(op)) throw new UsageError(`-${op}: only -l (list) and -c (create) are supported`);
    const ops = ['l', 'c'].filter((op) => args.short.has(op));
    if (ops.length > 1) throw new UsageError("Cannot mix '-l', '-a', '-c', '-d'");
    if (ops.length === 0) throw new UsageError('snapshot needs -l (list) or -c NAME (create)');
    const fmt = args.short.get('f');
    if (fmt !== undefined && fmt !== 'qcow2') throw new UsageError(`internal snapshots need a qcow2 image, not '${fmt}'`);
    const [path] = requirePositionals(args, ['IMAGE']);
    if (args.short.has('c')) return create(path, args.short.get('c')!, args.short.has('U'));
    const dev = await openImage(path, { readOnly: true });
    try {
      if (dev.format !== 'qcow2') throw new Qcow2Error('unsupported', 'internal snapshots need a qcow2 image', path);
      await dev.prepIo();
      if (dev.snapshots.length === 0) return 0; // qemu-img prints nothing then
      const header = `${'ID'.padEnd(10)}${'TAG'.padEnd(17)}${'VM SIZE'.padStart(8)}${'DATE'.padStart(20)}${'VM CLOCK'.padStart(13)}${'ICOUNT'.padStart(11)}`;
      const lines = ['Snapshot list:', header, ...dev.snapshots.map((s) => snapshotRow(snapshotJson(s)))];
      await writeOut(io.stdout, new TextEncoder().encode(lines.join('\n') + '\n'));
      return 0;
    } finally {
      await dev.close();
    }
  },
};

async function create(path: string, name: string, forceShare: boolean): Promise<number> {
  if (forceShare) throw new Qcow2Error('invalid-argument', 'force-share=on (-U) can only be used with read-only images', path);
  const dev = await openImage(path, { readOnly: false });
  try {
    if (!(dev instanceof Qcow2Dev)) throw new Qcow2Error('unsupported', 'internal snapshots need a qcow2 image', path);
    await dev.createSnapshot(name);
    return 0;
  } finally {
    await dev.close();
  }
}
