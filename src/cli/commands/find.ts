import { parseArgs, outputFormat, parseSize, requirePositionals, UsageError } from '../args';
import { BufferedOut, writeOut, type CliCommand } from '../command';
import { openImage, Qcow2Error } from '../../qcow2';
import {
  compilePattern,
  fileTarget,
  partitionRange,
  placeFileHits,
  PatternError,
  searchDisk,
  DEFAULT_HIT_LIMIT,
  MAX_HIT_LIMIT,
  type FileHit,
  type PatternMode,
  type SearchHit,
} from '../../search';
import { withGuestFs } from '../fs-target';

/** Options that take a value, written `--name VALUE` or `--name=VALUE`. */
const VALUE_OPTIONS = new Set(['from', 'to', 'partition', 'file', 'max', 'output']);
const FLAGS = new Set(['hex', 'text', 'utf16', 'regex', 'ignore-case']);

/** `find`: where a byte pattern occurs in the guest disk, through the backing chain, like grep over the raw disk. */
export const findCommand: CliCommand = {
  name: 'find',
  usage:
    'find [--hex|--text|--utf16|--regex] [--ignore-case] [--from OFF] [--to OFF] [--partition N | --file [N:]/path] [--max N] [--output=human|json] IMAGE PATTERN',
  summary: 'find a pattern in the guest disk (exit 0 found, 2 not found, 1 error)',
  async run(argv, io) {
    const args = parseArgs(joinValues(argv), '', 'i');
    for (const name of args.long.keys()) if (!VALUE_OPTIONS.has(name) && !FLAGS.has(name)) throw new UsageError(`unknown option --${name}`);
    const format = outputFormat(args);
    const [path, source] = requirePositionals(args, ['IMAGE', 'PATTERN']);
    const modes = (['hex', 'text', 'utf16', 'regex'] as PatternMode[]).filter((m) => args.long.has(m));
    if (modes.length > 1) throw new UsageError(`choose one of --${modes.join(', --')}`);
    const mode = modes[0] ?? 'text';
    const limit = args.long.has('max') ? parseCount(args.long.get('max')!, path) : DEFAULT_HIT_LIMIT;
    let pattern;
    try {
      pattern = compilePattern({ mode, source, ignoreCase: args.long.has('ignore-case') || args.short.has('i') });
    } catch (err) {
      if (err instanceof PatternError) throw new Qcow2Error('invalid-argument', err.message, path);
      throw err;
    }
    if (args.long.has('file')) {
      if (args.long.has('partition')) throw new UsageError('--file and --partition cannot be used together');
      return findInFile(path, args.long.get('file')!, pattern, limit, format, args.long.get('from'), args.long.get('to'), io);
    }
    const dev = await openImage(path, { readOnly: true });
    try {
      let start = args.long.has('from') ? parseOffset(args.long.get('from')!, 'from') : 0;
      let end = args.long.has('to') ? parseOffset(args.long.get('to')!, 'to') : dev.virtualSize;
      if (args.long.has('partition')) {
        const p = await partitionRange(dev, parseCount(args.long.get('partition')!, path), path);
        start = Math.max(start, p.start);
        end = Math.min(end, p.end);
      }
      if (end > dev.virtualSize) throw new Qcow2Error('range', `--to ${end} is beyond the virtual size ${dev.virtualSize}`, path);
      if (start > end) throw new Qcow2Error('range', `the range ${start}-${end} is empty`, path);
      const result = await searchDisk(dev, pattern, { start, end, limit });
      await printHits(io.stdout, result.hits, format);
      if (result.limitReached) await writeOut(io.stderr, `qcow2-inspector: ${path}: stopped after ${limit} hits (--max); there may be more\n`);
      return result.hits.length > 0 ? 0 : 2;
    } finally {
      await dev.close();
    }
  },
};

/** `--file [N:]/path`: the file's bytes in file order; --from/--to are file offsets; each hit also says where it is on the disk. */
async function findInFile(
  image: string,
  spec: string,
  pattern: ReturnType<typeof compilePattern>,
  limit: number,
  format: 'human' | 'json',
  from: string | undefined,
  to: string | undefined,
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): Promise<number> {
  return withGuestFs(image, spec, async (fs, path, dev) => {
    const st = await fs.stat(path);
    if (st.type !== 'file') throw new Qcow2Error('invalid-argument', `${spec} is not a regular file`, image);
    const start = from !== undefined ? parseOffset(from, 'from') : 0;
    const end = to !== undefined ? parseOffset(to, 'to') : st.size;
    if (end > st.size) throw new Qcow2Error('range', `--to ${end} is beyond the file's size ${st.size}`, image);
    if (start > end) throw new Qcow2Error('range', `the range ${start}-${end} is empty`, image);
    const result = await searchDisk(fileTarget(fs, path, st.size), pattern, { start, end, limit });
    const hits = await placeFileHits(result.hits, await fs.extents(path), dev);
    await printFileHits(io.stdout, hits, format);
    if (result.limitReached) await writeOut(io.stderr, `qcow2-inspector: ${image}: stopped after ${limit} hits (--max); there may be more\n`);
    return hits.length > 0 ? 0 : 2;
  });
}

async function printFileHits(stream: NodeJS.WritableStream, hits: FileHit[], format: 'human' | 'json'): Promise<void> {
  const out = new BufferedOut(stream);
  const hex = (n: number | null) => (n === null ? '-' : `0x${n.toString(16)}`);
  if (format === 'json') {
    await out.write('[');
    for (let i = 0; i < hits.length; i++) {
      const h = hits[i];
      await out.write(
        `${i ? ',' : ''}\n  { "file-offset": ${h.fileOffset}, "offset": ${h.guestOffset ?? 'null'}, "layer": ${h.layer}, "host-offset": ${h.hostOffset ?? 'null'} }`,
      );
    }
    await out.write(hits.length ? '\n]\n' : ']\n');
  } else {
    for (const h of hits)
      await out.write(`file ${hex(h.fileOffset).padEnd(14)}  disk ${hex(h.guestOffset).padEnd(18)}  layer ${h.layer}  host ${hex(h.hostOffset)}\n`);
  }
  await out.flush();
}

async function printHits(stream: NodeJS.WritableStream, hits: SearchHit[], format: 'human' | 'json'): Promise<void> {
  const out = new BufferedOut(stream);
  const hex = (n: number) => `0x${n.toString(16)}`;
  if (format === 'json') {
    await out.write('[');
    for (let i = 0; i < hits.length; i++) {
      const h = hits[i];
      await out.write(`${i ? ',' : ''}\n  { "offset": ${h.offset}, "layer": ${h.layer}, "host-offset": ${h.hostOffset ?? 'null'} }`);
    }
    await out.write(hits.length ? '\n]\n' : ']\n');
  } else {
    for (const h of hits) await out.write(`${hex(h.offset).padEnd(18)}  layer ${h.layer}  host ${h.hostOffset === null ? '-' : hex(h.hostOffset)}\n`);
  }
  await out.flush();
}

/** Lets `--from 1M` mean `--from=1M` (the shared parser only knows the `=` form). */
function joinValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (a.startsWith('--') && !a.includes('=') && VALUE_OPTIONS.has(a.slice(2))) {
      if (i + 1 >= argv.length) throw new UsageError(`option ${a} needs a value`);
      out.push(`${a}=${argv[++i]}`);
    } else out.push(a);
  }
  return out;
}

/** Offsets: decimal or 0x hex bytes, or with a k/M/G/T suffix. */
function parseOffset(text: string, what: string): number {
  if (/^0x[0-9a-f]+$/i.test(text)) {
    const v = parseInt(text, 16);
    if (!Number.isSafeInteger(v)) throw new UsageError(`--${what} '${text}' is out of range`);
    return v;
  }
  return parseSize(text, `--${what}`);
}

function parseCount(text: string, path: string): number {
  const v = Number(text);
  if (!/^\d+$/.test(text) || v < 1 || v > MAX_HIT_LIMIT)
    throw new Qcow2Error('invalid-argument', `'${text}' must be a whole number from 1 to ${MAX_HIT_LIMIT}`, path);
  return v;
}
