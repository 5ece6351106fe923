import { parseArgs, parseOptionList, parseSize, requirePositionals, UsageError } from '../args';
import { writeOut, type CliCommand } from '../command';
import { measureQcow2, measureRaw, openImage, Qcow2Dev, RawDev, NodeFileIo, type BlockLayer, type MeasurePreallocation, type MeasureResult } from '../../qcow2';
import { createOptionsFrom } from './create';
import { atChoice, parseConvertSnapshot } from '../snapshot-arg';

/** `measure`: the size a conversion would need (qemu-img measure: same options, text, JSON and exit codes). */
export const measureCommand: CliCommand = {
  name: 'measure',
  usage: 'measure [--output=human|json] [-f FMT] [-O raw|qcow2] [-o OPTIONS] [-l SNAPSHOT] (--size SIZE | IMAGE)',
  summary: 'how large the image would be converted to qcow2 or raw (as qemu-img measure)',
  async run(argv, io) {
    const args = parseArgs(joinSizeValue(argv), 'fOol');
    const snapshot = args.short.has('l') ? parseConvertSnapshot(args.short.get('l')!) : undefined;
    const output = args.long.get('output') ?? 'human';
    if (output !== 'human' && output !== 'json') throw new UsageError(`--output must be human or json, not '${output}'`);
    const sizeText = args.long.get('size');
    const [path] = requirePositionals(args, ['IMAGE'], 1);
    if (sizeText !== undefined && path !== undefined) throw new UsageError('--size N cannot be used together with a filename.');
    if (sizeText === undefined && path === undefined) throw new UsageError('Either --size N or one filename must be specified.');
    const outFmt = args.short.get('O') ?? 'raw';
    if (outFmt !== 'raw' && outFmt !== 'qcow2') throw new UsageError(`Block driver '${outFmt}' does not support size measurement`);
    const o = parseOptionList(args.short.get('o'));
    const prealloc = o.get('preallocation') ?? 'off';
    if (!['off', 'metadata', 'falloc', 'full'].includes(prealloc)) throw new UsageError(`invalid preallocation mode '${prealloc}'`);
    const backingFile = o.get('backing_file');
    for (const k of ['preallocation', 'backing_file', 'backing_fmt']) o.delete(k);
    const opts = createOptionsFrom(o);

    let input: BlockLayer | undefined;
    let image: Qcow2Dev | RawDev | undefined;
    try {
      if (path !== undefined) {
        image = await openInput(path, args.short.get('f'));
        input = image instanceof Qcow2Dev ? await atChoice(image, snapshot, path) : image;
      }
      const size = input ? input.virtualSize : parseSize(sizeText!, 'image size');
      let r: MeasureResult;
      if (outFmt === 'raw') r = measureRaw(size);
      else {
        // The image's bitmaps count even when measuring one of its snapshots (the view has none of its own).
        const bitmaps = image instanceof Qcow2Dev && image.info.version >= 3 ? image.bitmaps : undefined;
        r = await measureQcow2(input, size, { ...opts, preallocation: prealloc as MeasurePreallocation, backingFile }, path ?? 'measure', bitmaps);
      }
      await writeOut(io.stdout, output === 'json' ? measureJson(r) : measureHuman(r));
      return 0;
    } finally {
      await image?.close();
    }
  },
};

/** `--size N` as two arguments, as qemu-img takes it, becomes `--size=N`. */
function joinSizeValue(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--') return [...out, ...argv.slice(i)];
    if (argv[i] === '--size') {
      if (argv[i + 1] === undefined) throw new UsageError('option --size needs a value');
      out.push(`--size=${argv[++i]}`);
    } else out.push(argv[i]);
  }
  return out;
}

async function openInput(path: string, fmt: string | undefined): Promise<Qcow2Dev | RawDev> {
  if (fmt === 'raw') return RawDev.open(await NodeFileIo.open(path, true));
  if (fmt !== undefined && fmt !== 'qcow2') throw new UsageError(`format '${fmt}' is not supported (use qcow2 or raw)`);
  return openImage(path, { readOnly: true });
}

export function measureHuman(r: MeasureResult): string {
  return `required size: ${r.required}\nfully allocated size: ${r.fullyAllocated}\n${r.bitmaps !== undefined ? `bitmaps size: ${r.bitmaps}\n` : ''}`;
}

/** qemu-img's JSON: 4-space indent, bitmaps first when present. */
export function measureJson(r: MeasureResult): string {
  const o = { ...(r.bitmaps !== undefined ? { bitmaps: r.bitmaps } : {}), required: r.required, 'fully-allocated': r.fullyAllocated };
  return JSON.stringify(o, null, 4) + '\n';
}
