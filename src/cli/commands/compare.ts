import { parseArgs, outputFormat, requirePositionals, UsageError } from '../args';
import { writeOut, type CliCommand } from '../command';
import { openImage, RawDev, NodeFileIo, Qcow2Error, asQcow2Error, type BlockLayer } from '../../qcow2';
import { diffCommon, nonZeroTail, type DiffRange } from '../compare-walk';
import { takeImageArgs, type ImageArgs } from '../image-secrets';

/**
 * `compare`: qemu-img compare's messages and exit codes (0 identical, 1 different, 2 error); a larger image's tail
 * must read as zeros unless -s. `--output=json` lists every differing range (sector-aligned), not just the first.
 */
export const compareCommand: CliCommand = {
  name: 'compare',
  usage: 'compare [--object secret,... --image-opts] [--passphrase-file FILE] [-f FMT] [-F FMT] [-s] [--output=human|json] IMAGE1 IMAGE2',
  summary: 'compare two guest disks (as qemu-img compare); ranges sharing host clusters are not read',
  async run(argv, io) {
    let json = false;
    const devs: BlockLayer[] = [];
    try {
      const imageArgs = takeImageArgs(argv, io);
      const args = parseArgs(imageArgs.argv, 'fFT', 'spqU');
      json = outputFormat(args) === 'json';
      const strict = args.short.has('s');
      const quiet = args.short.has('q');
      const [p1, p2] = requirePositionals(args, ['IMAGE1', 'IMAGE2']);
      devs.push(await openAs(imageArgs, p1, args.short.get('f')));
      devs.push(await openAs(imageArgs, p2, args.short.get('F') ?? args.short.get('f')));
      const [a, b] = devs;
      const say = async (line: string): Promise<void> => {
        if (!quiet && !json) await writeOut(io.stdout, line + '\n');
      };
      const diffs: DiffRange[] = [];
      const result = async (code: number, extra: Record<string, unknown> = {}): Promise<number> => {
        if (json)
          await writeOut(
            io.stdout,
            JSON.stringify({ identical: code === 0, size1: a.virtualSize, size2: b.virtualSize, ...extra, differences: diffs }, null, 4) + '\n',
          );
        return code;
      };
      if (strict && a.virtualSize !== b.virtualSize) {
        await say('Strict mode: Image size mismatch!');
        return result(1, { 'size-mismatch': true });
      }
      for await (const d of diffCommon(a, b, strict)) {
        if ('statusAt' in d) {
          await say(`Strict mode: Offset ${d.statusAt} block status mismatch!`);
          return result(1, { 'status-mismatch-at': d.statusAt });
        }
        if (!json) {
          await say(`Content mismatch at offset ${d.start}!`);
          return 1;
        }
        diffs.push(d);
      }
      if (a.virtualSize !== b.virtualSize) {
        if (!json && diffs.length === 0) await say('Warning: Image size mismatch!');
        const over = a.virtualSize > b.virtualSize ? a : b;
        for await (const d of nonZeroTail(over, Math.min(a.virtualSize, b.virtualSize))) {
          if (!json) {
            await say(`Content mismatch at offset ${d.start}!`);
            return 1;
          }
          diffs.push(d);
        }
      }
      if (diffs.length > 0) return result(1);
      await say('Images are identical.');
      return result(0);
    } catch (err) {
      // qemu-img compare exits 2 on any error (the other commands exit 1).
      const msg = err instanceof UsageError || err instanceof Qcow2Error ? err.message : asQcow2Error(err).message;
      await writeOut(io.stderr, `qcow2-inspector: ${msg}\n`);
      return 2;
    } finally {
      for (const d of devs) await d.close().catch(() => undefined);
    }
  },
};

async function openAs(imageArgs: ImageArgs, spec: string, fmt: string | undefined): Promise<BlockLayer> {
  const { path, keys, driver } = imageArgs.image(spec, true);
  fmt = driver ?? fmt;
  if (fmt === 'raw') return RawDev.open(await NodeFileIo.open(path, true));
  if (fmt !== undefined && fmt !== 'qcow2') throw new UsageError(`format '${fmt}' is not supported (use qcow2 or raw)`);
  if (fmt === undefined) {
    // Probe as qemu-img does: a file without the qcow2 magic is raw.
    const io = await NodeFileIo.open(path, true);
    const magic = new Uint8Array(4);
    const n = await io.readAt(magic, 0).catch(async (e: unknown) => {
      await io.close();
      throw e;
    });
    if (n < 4 || magic[0] !== 0x51 || magic[1] !== 0x46 || magic[2] !== 0x49 || magic[3] !== 0xfb) return RawDev.open(io);
    await io.close();
  }
  return openImage(path, { readOnly: true, ...keys });
}
