/** `fs SUBCOMMAND`: the guest's file systems (read-only). Each subcommand lives in its own fs-*.ts file. */
import { UsageError } from '../args';
import type { CliCommand } from '../command';
import { fsCatCommand } from './fs-cat';
import { fsListCommand } from './fs-list';
import { fsLsCommand } from './fs-ls';
import { fsOwnerCommand } from './fs-owner';
import { fsStatCommand } from './fs-stat';

const subcommands: CliCommand[] = [fsListCommand, fsLsCommand, fsCatCommand, fsStatCommand, fsOwnerCommand];

export const fsCommand: CliCommand = {
  name: 'fs',
  usage: 'fs list|ls|cat|stat|owner ...',
  summary: "browse the guest's file systems (ext2/3/4, FAT, NTFS; partitions and LVM), read-only",
  async run(argv, io) {
    const [name, ...rest] = argv;
    const sub = subcommands.find((c) => c.name === name);
    if (!sub) throw new UsageError(`fs: expected one of ${subcommands.map((c) => c.name).join(', ')}\n${subcommands.map((c) => `  fs ${c.usage}`).join('\n')}`);
    return sub.run(rest, io);
  },
};
