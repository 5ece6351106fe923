import { open, type FileHandle } from 'node:fs/promises';
import { parseArgs, parseSize, UsageError } from '../args';
import { writeOut, type CliCommand, type CliIo } from '../command';
import { openImage, asQcow2Error, Qcow2Error, type Qcow2Dev } from '../../qcow2';
import { takeImageArgs, type ImageSpec } from '../image-secrets';

/** Qcow2Dev's write path, as this command uses it. */
interface WritableDev {
  writeAt(buf: Uint8Array, offset: number): Promise<unknown>;
  flushMeta(): Promise<void>;
  readonly io: { fsync(): Promise<void> };
  readonly dataIo?: { fsync(): Promise<void> };
}

const CHUNK = 1024 * 1024;
/** Input from stdin is held in memory up to this size, so a too-long input is refused before any write. */
const STDIN_BUFFER = 64 * 1024 * 1024;

/** Input chunks from a file (size known up front) or stdin. */
async function* fileChunks(fh: FileHandle): AsyncGenerator<Uint8Array> {
  for (let pos = 0; ;) {
    const buf = new Uint8Array(CHUNK);
    const { bytesRead } = await fh.read(buf, 0, CHUNK, pos);
    if (bytesRead === 0) return;
    pos += bytesRead;
    yield buf.subarray(0, bytesRead);
  }
}

async function* streamChunks(stream: NodeJS.ReadableStream): AsyncGenerator<Uint8Array> {
  for await (const c of stream as AsyncIterable<Buffer | string>) yield typeof c === 'string' ? Buffer.from(c) : c;
}

/** Reads stdin into memory while it fits STDIN_BUFFER; returns the buffered part and whether the stream ended. */
async function bufferStdin(io: CliIo): Promise<{ head: Uint8Array[]; length: number; rest?: AsyncGenerator<Uint8Array> }> {
  const it = streamChunks(io.stdin);
  const head: Uint8Array[] = [];
  let length = 0;
  for (;;) {
    const { value, done } = await it.next();
    if (done) return { head, length };
    head.push(value);
    length += value.length;
    if (length > STDIN_BUFFER) return { head, length, rest: it };
  }
}

/** `write`: writes bytes from FILE (or stdin) into the guest disk at OFFSET, then flushes and syncs. */
export const writeCommand: CliCommand = {
  name: 'write',
  usage: 'write [--object secret,... --image-opts] [--passphrase-file FILE] [-q] IMAGE OFFSET [FILE] | write -z [-q] IMAGE OFFSET LENGTH',
  summary: 'write bytes from FILE or stdin into the guest disk at OFFSET; -z: make LENGTH bytes read as zeros, with zero clusters (qemu-io write -z)',
  async run(argv, io) {
    const imageArgs = takeImageArgs(argv, io);
    const args = parseArgs(imageArgs.argv, '', 'qz');
    if (args.short.has('z')) return writeZeroes(args.positional, !args.short.has('q'), io, imageArgs.image);
    const [spec, offsetText, file, ...extra] = args.positional;
    if (!spec || offsetText === undefined || extra.length > 0) throw new UsageError('expected IMAGE OFFSET [FILE]');
    const offset = parseSize(offsetText, 'offset');
    const { path, keys } = imageArgs.image(spec);

    // Gather the input first (its length when known), so a write past the end is refused before anything is written.
    let input: AsyncGenerator<Uint8Array>;
    let knownLength: number | undefined;
    let fh: FileHandle | undefined;
    if (file !== undefined && file !== '-') {
      try {
        fh = await open(file, 'r');
        const st = await fh.stat();
        if (st.isDirectory()) throw new Qcow2Error('invalid-argument', 'is a directory', file);
        knownLength = st.isFile() ? st.size : undefined;
      } catch (err) {
        await fh?.close();
        throw asQcow2Error(err, file);
      }
      input = fileChunks(fh);
    } else {
      const { head, length, rest } = await bufferStdin(io);
      if (!rest) knownLength = length;
      input = (async function* () {
        yield* head;
        if (rest) yield* rest;
      })();
    }

    try {
      const dev = await openImage(path, { readOnly: false, ...keys });
      try {
        const w = dev as Qcow2Dev & Partial<WritableDev>;
        if (typeof w.writeAt !== 'function' || typeof w.flushMeta !== 'function') {
          throw new Qcow2Error('unsupported', 'this build cannot write qcow2 images', path);
        }
        const size = dev.virtualSize;
        if (knownLength !== undefined && offset + knownLength > size) {
          throw new Qcow2Error('range', `writing ${knownLength} bytes at offset ${offset} would pass the end of the disk (${size} bytes)`, path);
        }
        let written = 0;
        try {
          for await (const chunk of input) {
            if (offset + written + chunk.length > size) {
              throw new Qcow2Error('range', `input runs past the end of the disk (${size} bytes); ${written} bytes at offset ${offset} were written`, path);
            }
            await w.writeAt(chunk, offset + written);
            written += chunk.length;
          }
        } finally {
          // Whatever was written is made consistent and durable, even when the input failed part way.
          await w.flushMeta();
          await dev.io.fsync();
          await dev.dataIo?.fsync();
        }
        if (!args.short.has('q')) await writeOut(io.stdout, `wrote ${written}/${written} bytes at offset ${offset}\n`);
        return 0;
      } finally {
        await dev.close();
      }
    } finally {
      await fh?.close();
    }
  },
};

/** `write -z IMAGE OFFSET LENGTH`: zero clusters where whole clusters are covered, zero bytes at the ends. */
async function writeZeroes(positional: string[], verbose: boolean, io: CliIo, image: (spec: string) => ImageSpec): Promise<number> {
  const [spec, offsetText, lengthText, ...extra] = positional;
  if (!spec || offsetText === undefined || lengthText === undefined || extra.length > 0) throw new UsageError('expected -z IMAGE OFFSET LENGTH');
  const offset = parseSize(offsetText, 'offset');
  const length = parseSize(lengthText, 'length');
  const { path, keys } = image(spec);
  const dev = await openImage(path, { readOnly: false, ...keys });
  try {
    if (offset + length > dev.virtualSize) {
      throw new Qcow2Error('range', `zeroing ${length} bytes at offset ${offset} would pass the end of the disk (${dev.virtualSize} bytes)`, path);
    }
    await dev.writeZeroes(offset, length);
    await dev.flushMeta();
    await dev.io.fsync();
    if (verbose) await writeOut(io.stdout, `wrote ${length}/${length} bytes at offset ${offset}\n`);
    return 0;
  } finally {
    await dev.close();
  }
}
