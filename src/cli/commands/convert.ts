import { open, realpath, type FileHandle } from 'node:fs/promises';
import { parseArgs, requirePositionals, UsageError } from '../args';
import type { CliCommand } from '../command';
import { openImage, mapEntries, asQcow2Error, Qcow2Error, type BlockLayer, Qcow2Dev, RawDev, NodeFileIo, type Qcow2IoOps, seekAddon } from '../../qcow2';
import { convertToQcow2 } from './convert-qcow2';
import { takeImageArgs } from '../image-secrets';
import { atChoice, parseConvertSnapshot } from '../snapshot-arg';

/** Guest bytes are read and written in pieces of this size: large enough to coalesce host reads. */
export const CONVERT_CHUNK = 4 * 1024 * 1024;
/** Blocks of zeros this size or larger inside data are skipped (left as holes), as qemu-img's -S 4k. */
const SPARSE_BLOCK = 4096;

/** `convert -O raw`: the guest disk as a raw file, sparse where it reads as zeros; `-O qcow2` (with -c): convert-qcow2.ts. */
export const convertCommand: CliCommand = {
  name: 'convert',
  usage:
    'convert [--object secret,... --image-opts] [--passphrase-file FILE] [-c] [-l snapshot.name=NAME|snapshot.id=ID] -O raw|qcow2 [-o OPTIONS] IMAGE OUTPUT',
  summary: 'write the guest disk (through the backing chain) to a sparse raw file or a new qcow2 image (-c: compressed clusters)',
  async run(argv, io) {
    const imageArgs = takeImageArgs(argv, io);
    const args = parseArgs(imageArgs.argv, 'fOol', 'pqc');
    const fmt = args.short.get('O') ?? args.long.get('target-format');
    if (fmt !== 'raw' && fmt !== 'qcow2')
      throw new UsageError(fmt ? `output format '${fmt}' is not supported (use raw or qcow2)` : 'missing -O raw or -O qcow2');
    const [inputSpec, output] = requirePositionals(args, ['IMAGE', 'OUTPUT']);
    const { path: input, keys } = imageArgs.image(inputSpec);
    const snapText = args.short.get('l');
    if (snapText !== undefined && fmt === 'qcow2') throw new UsageError('-l (a snapshot) is supported with -O raw only');
    if (fmt === 'qcow2') return convertToQcow2(args, input, output, refuseOverwritingInput, keys, imageArgs);
    if (args.short.has('c')) throw new UsageError('compression (-c) needs -O qcow2');
    if (args.short.has('o')) throw new UsageError('-o options are for -O qcow2');
    const image = await openImage(input, { readOnly: true, ...keys });
    try {
      const dev = (await atChoice(image, snapText === undefined ? undefined : parseConvertSnapshot(snapText), input)) as typeof image;
      await refuseOverwritingInput(dev, output);
      const out = await open(output, 'w').catch((e) => {
        throw asQcow2Error(e, output);
      });
      try {
        const batch = new Batch(dev, out, output);
        const copier = kernelCopier(out);
        for await (const e of mapEntries(dev, input)) {
          if (e.zero) continue; // reads as zeros: leave a hole
          if (e.data && e.offset !== undefined && copier(layerAt(dev, e.depth), e.offset, e.start, e.length)) continue;
          for (let pos = e.start; pos < e.start + e.length; pos += CONVERT_CHUNK) {
            await batch.add(pos, Math.min(CONVERT_CHUNK, e.start + e.length - pos), e.data && e.offset === undefined);
          }
        }
        await batch.flush();
        // qemu-img convert -l loads only the snapshot's L1 table and keeps the image's current size: past a smaller
        // snapshot's end the guest reads what an unallocated range reads (the backing file, else zeros).
        if (image.virtualSize > dev.virtualSize) await copyTailFromBacking(image, out, dev.virtualSize, output);
        // A device (or /dev/null) has its own size; only a regular file is cut to the virtual size.
        if ((await out.stat()).isFile()) {
          await out.truncate(image.virtualSize).catch((err) => {
            throw asQcow2Error(err, output);
          });
        }
      } finally {
        await out.close();
      }
      return 0;
    } finally {
      await image.close();
    }
  },
};

/** Writes the guest range [from, image end) as the image's unallocated clusters read it (see convert -l above). */
async function copyTailFromBacking(image: Qcow2Dev | RawDev, out: FileHandle, from: number, output: string): Promise<void> {
  if (!(image instanceof Qcow2Dev) || !image.backing) return; // zeros: the final truncate leaves a hole
  for (let pos = from; pos < image.virtualSize; pos += CONVERT_CHUNK) {
    const buf = new Uint8Array(Math.min(CONVERT_CHUNK, image.virtualSize - pos));
    await image.readBacking(buf, pos);
    if (buf.some((b) => b !== 0)) {
      await out.write(buf, 0, buf.length, pos).catch((err) => {
        throw asQcow2Error(err, output);
      });
    }
  }
}

/** The file holding a layer's data (its external data file, if any). */
function layerAt(dev: Qcow2Dev, depth: number): Qcow2IoOps | undefined {
  let layer: BlockLayer | undefined = dev;
  for (let d = 0; d < depth && layer; d++) layer = layer.backing;
  // An encrypted layer's host bytes are ciphertext: they are read through the engine, never copied.
  if (layer instanceof Qcow2Dev) return layer.crypto ? undefined : (layer.dataIo ?? layer.io);
  if (layer instanceof RawDev) return layer.io;
  return undefined;
}

/**
 * Copies plain data ranges file-to-file in the kernel (copy_file_range through the native addon), which
 * saves a trip through user space. Returns a function that answers false when it cannot copy a range,
 * so the caller reads it through the engine instead.
 */
function kernelCopier(out: FileHandle): (src: Qcow2IoOps | undefined, host: number, pos: number, length: number) => boolean {
  const copy = seekAddon()?.copyFileRange;
  let usable = copy !== undefined;
  return (src, host, pos, length) => {
    if (!usable || !(src instanceof NodeFileIo)) return false;
    try {
      // A short copy: the range runs past the end of the file (a truncated data file). The engine's read then
      // gives zeros there, as qemu-img reads it.
      return copy!(src.fd, host, out.fd, pos, length) === length;
    } catch {
      // EXDEV, EINVAL (e.g. a pipe or /dev/null) and similar: fall back to reading and writing.
      usable = false;
      return false;
    }
  };
}

/** Reads (and writes) kept in flight at once: a fragmented image is many small scattered host reads. */
const CONCURRENCY = 8;

/**
 * Guest ranges gathered until they fill one 4 MiB buffer, then read and written with several requests in
 * flight. Compressed ranges are read in order by one worker, so the engine's read-ahead window serves them.
 */
class Batch {
  private readonly buf = new Uint8Array(CONVERT_CHUNK);
  private pieces: { pos: number; at: number; length: number; compressed: boolean }[] = [];
  private used = 0;

  constructor(
    private readonly dev: Qcow2Dev,
    private readonly out: FileHandle,
    private readonly path: string,
  ) {}

  async add(pos: number, length: number, compressed: boolean): Promise<void> {
    if (this.used + length > this.buf.length) await this.flush();
    this.pieces.push({ pos, at: this.used, length, compressed });
    this.used += length;
  }

  async flush(): Promise<void> {
    const pieces = this.pieces;
    this.pieces = [];
    this.used = 0;
    const view = (p: (typeof pieces)[number]): Uint8Array => this.buf.subarray(p.at, p.at + p.length);
    const plain = pieces.filter((p) => !p.compressed);
    const compressed = pieces.filter((p) => p.compressed);
    const workers: Promise<void>[] = [
      (async () => {
        for (const p of compressed) await this.dev.readAt(view(p), p.pos);
      })(),
    ];
    let next = 0;
    for (let w = 0; w < CONCURRENCY; w++) {
      workers.push(
        (async () => {
          while (next < plain.length) {
            const p = plain[next++];
            await this.dev.readAt(view(p), p.pos);
          }
        })(),
      );
    }
    await Promise.all(workers);
    // Pieces are disjoint guest ranges: their writes may overlap in time.
    next = 0;
    const writers: Promise<void>[] = [];
    for (let w = 0; w < CONCURRENCY; w++) {
      writers.push(
        (async () => {
          while (next < pieces.length) {
            const p = pieces[next++];
            await writeNonZero(this.out, view(p), p.pos, this.path);
          }
        })(),
      );
    }
    await Promise.all(writers);
  }
}

/** Writes `chunk` at `pos`, skipping aligned all-zero blocks so the output stays sparse. */
async function writeNonZero(out: FileHandle, chunk: Uint8Array, pos: number, path: string): Promise<void> {
  let runStart = -1;
  const flush = async (end: number): Promise<void> => {
    if (runStart < 0) return;
    const part = chunk.subarray(runStart, end);
    let done = 0;
    while (done < part.length) {
      const { bytesWritten } = await out.write(part, done, part.length - done, pos + runStart + done).catch((err) => {
        throw asQcow2Error(err, path);
      });
      done += bytesWritten;
    }
    runStart = -1;
  };
  for (let at = 0; at < chunk.length; at += SPARSE_BLOCK) {
    const end = Math.min(chunk.length, at + SPARSE_BLOCK);
    if (isZero(chunk, at, end)) await flush(at);
    else if (runStart < 0) runStart = at;
  }
  await flush(chunk.length);
}

function isZero(b: Uint8Array, start: number, end: number): boolean {
  // Compare 4 bytes at a time where aligned (chunk buffers start at offset 0 of their ArrayBuffer).
  let i = start;
  if ((b.byteOffset + start) % 4 === 0 && (end - start) % 4 === 0) {
    const w = new Uint32Array(b.buffer, b.byteOffset + start, (end - start) / 4);
    for (let k = 0; k < w.length; k++) if (w[k] !== 0) return false;
    return true;
  }
  for (; i < end; i++) if (b[i] !== 0) return false;
  return true;
}

/** Opening OUTPUT truncates it: refuse when it is the image itself, a backing file or the data file. */
async function refuseOverwritingInput(dev: Qcow2Dev, output: string): Promise<void> {
  const target = await realpath(output).catch(() => undefined);
  if (target === undefined) return; // does not exist yet
  const inputs: string[] = [];
  for (let layer: BlockLayer | undefined = dev; layer; layer = layer.backing) inputs.push(layer.path);
  if (dev.dataIo) inputs.push(dev.dataIo.path);
  for (const p of inputs) {
    if ((await realpath(p).catch(() => p)) === target)
      throw new Qcow2Error('invalid-argument', `output file is also an input (${p}); refusing to overwrite it`, output);
  }
}
