import { parseArgs, requirePositionals, UsageError } from '../args';
import { writeOut, type CliCommand } from '../command';
import { openImage, Qcow2Error } from '../../qcow2';
import { snapshotJson, snapshotRow } from '../format-info';

/** `snapshot -l`: the internal snapshot table, as qemu-img snapshot -l prints it. Snapshots are only read here. */
export const snapshotCommand: CliCommand = {
  name: 'snapshot',
  usage: 'snapshot -l IMAGE',
  summary: 'list the internal snapshots (as qemu-img snapshot -l); creating, applying and deleting are not supported',
  async run(argv, io) {
    const args = parseArgs(argv, 'f', 'lUq');
    for (const op of ['a', 'c', 'd']) if (args.short.has(op)) throw new UsageError(`-${op}: only -l (list) is supported; snapshots are read-only here`);
    if (!args.short.has('l')) throw new UsageError('snapshot needs -l (list)');
    const [path] = requirePositionals(args, ['IMAGE']);
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
