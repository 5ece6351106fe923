import { parseArgs, requirePositionals, UsageError } from '../args';
import type { CliCommand } from '../command';
import { NodeFileIo, rebaseUnsafe } from '../../qcow2/index';

/** `rebase -u -b NEW [-F FMT] IMAGE`: qemu-img's unsafe rebase, crash-safe (src/qcow2/rebase.ts). */
export const rebaseCommand: CliCommand = {
  name: 'rebase',
  usage: 'rebase -u -b BACKING [-F FMT] [-f qcow2] IMAGE',
  summary: 'change the backing file name and format in the header only (qemu-img rebase -u); the data is not touched',
  async run(argv) {
    const args = parseArgs(argv, 'bFfo', 'uqp');
    if (!args.short.has('u')) throw new UsageError('only the unsafe mode (-u) is supported: it rewrites the header only');
    const fmt = args.short.get('f');
    if (fmt !== undefined && fmt !== 'qcow2') throw new UsageError(`only qcow2 images can be rebased, not '${fmt}'`);
    const backing = args.short.get('b');
    if (backing === undefined) throw new UsageError('missing -b BACKING (use -b "" to drop the backing file)');
    const [path] = requirePositionals(args, ['IMAGE']);
    const io = await NodeFileIo.open(path, false);
    try {
      await rebaseUnsafe(io, backing, backing === '' ? undefined : args.short.get('F'));
    } finally {
      await io.close();
    }
    return 0;
  },
};
