import { parseArgs, parseSize, requirePositionals, UsageError } from '../args';
import type { CliCommand } from '../command';
import { openImage, Qcow2Dev, Qcow2Error } from '../../qcow2';
import { bitmapDump } from './bitmap-dump';

/**
 * `bitmap --add [-g GRANULARITY] [--disable] IMAGE NAME`: an empty persistent dirty bitmap, as qemu-img bitmap --add
 * makes it (silent, exit 0; engine: write/bitmap-add.ts). `bitmap --dump [--output=json] IMAGE NAME` (ours, not
 * qemu-img's) lists its dirty ranges (bitmap-dump.ts). The other qemu-img bitmap operations are not supported.
 */
export const bitmapCommand: CliCommand = {
  name: 'bitmap',
  usage: 'bitmap --add [-g GRANULARITY] [--disable] IMAGE NAME | bitmap --dump [--output=json] IMAGE NAME',
  summary: "add an empty persistent dirty bitmap (qemu-img bitmap --add), or list a bitmap's dirty ranges (--dump)",
  async run(argv, io) {
    const args = parseArgs(argv, 'gf', 'q');
    if (args.long.has('dump')) {
      for (const key of args.long.keys()) if (key !== 'dump' && key !== 'output') throw new UsageError(`--dump cannot be combined with --${key}`);
      return bitmapDump(args, io);
    }
    for (const op of ['merge', 'remove', 'clear', 'enable']) if (args.long.has(op)) throw new UsageError(`--${op}: only --add is supported`);
    for (const key of args.long.keys())
      if (!['add', 'disable', 'merge', 'remove', 'clear', 'enable'].includes(key)) throw new UsageError(`unknown option --${key}`);
    if (!args.long.has('add')) throw new UsageError('Need at least one of --add, --remove, --clear, --enable, --disable, or --merge (only --add is supported)');
    const fmt = args.short.get('f');
    if (fmt !== undefined && fmt !== 'qcow2') throw new UsageError(`persistent bitmaps need a qcow2 image, not '${fmt}'`);
    const g = args.short.get('g');
    const granularity = g === undefined ? undefined : parseSize(g, 'granularity');
    const [path, name] = requirePositionals(args, ['IMAGE', 'NAME']);
    const dev = await openImage(path, { readOnly: false });
    try {
      if (!(dev instanceof Qcow2Dev)) throw new Qcow2Error('unsupported', 'persistent bitmaps need a qcow2 image', path);
      await dev.addBitmap(name, { granularity, disabled: args.long.has('disable') });
      return 0;
    } finally {
      await dev.close();
    }
  },
};
