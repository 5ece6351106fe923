/**
 * `convert [-c] -O qcow2 [-o OPTIONS] IMAGE OUTPUT`: the guest disk (through the backing chain) into a new
 * standalone qcow2 image, as qemu-img convert writes it: clusters that read as zeros stay unallocated; with -c every
 * other cluster is stored compressed (zlib, or zstd with `-o compression_type=zstd`) when that saves space.
 */
import { stat } from 'node:fs/promises';
import { parseOptionList, UsageError, type ParsedArgs } from '../args';
import {
  canCompress,
  compressCluster,
  COMPRESSION_DEFLATE,
  COMPRESSION_ZSTD,
  createImage,
  mapEntries,
  openImage,
  Qcow2Error,
  type Qcow2Dev,
} from '../../qcow2/index';
import { createOptionsFrom } from './create';
import type { ImageArgs, KeyOptions } from '../image-secrets';
import { encryptOptionsFrom } from '../create-encrypt';

/** Guest bytes read at once (whole output clusters). */
const CHUNK = 4 * 1024 * 1024;

export async function convertToQcow2(
  args: ParsedArgs,
  input: string,
  output: string,
  refuseOverwritingInput: (dev: Qcow2Dev, out: string) => Promise<void>,
  keys: KeyOptions = {},
  secrets?: Pick<ImageArgs, 'secret' | 'passphraseFile'>,
): Promise<number> {
  const compress = args.short.has('c');
  const optionMap = parseOptionList(args.short.get('o'));
  // -o encrypt.format=luks,encrypt.key-secret=ID: an encrypted output, as qemu-img convert makes it.
  const encrypt = secrets ? encryptOptionsFrom(optionMap, output, secrets, []) : undefined;
  const opts = { ...createOptionsFrom(optionMap), encrypt };
  if (encrypt && compress) throw new UsageError('compressed clusters are not allowed in encrypted images');
  if (opts.dataFile !== undefined && compress) throw new UsageError('compressed writes are not supported with an external data file');
  const type = opts.compressionType === 'zstd' ? COMPRESSION_ZSTD : COMPRESSION_DEFLATE;
  if (compress && !canCompress(type))
    throw new Qcow2Error(
      'unsupported',
      `zstd compression needs Node 22.15 or later (this is Node ${process.versions.node}); use -o compression_type=zlib`,
      output,
    );
  const src = await openImage(input, { readOnly: true, ...keys });
  try {
    await refuseOverwritingInput(src, output);
    if (
      await stat(output).then(
        (s) => !s.isFile(),
        () => false,
      )
    )
      throw new Qcow2Error('invalid-argument', 'output must be a regular file', output);
    await createImage(output, { ...opts, size: src.virtualSize });
    const out = await openImage(output, { readOnly: false, ...(encrypt ? { encryptionKey: { passphrase: encrypt.passphrase } } : {}) });
    try {
      const cs = out.info.clusterSize;
      const buf = new Uint8Array(CHUNK);
      let done = 0; // guest bytes before this offset are written
      for await (const e of mapEntries(src, input)) {
        if (!e.data || e.zero) continue;
        // Whole output clusters that hold this data range (an earlier range may have written the first one).
        let pos = Math.max(done, Math.floor(e.start / cs) * cs);
        const end = Math.min(src.virtualSize, Math.ceil((e.start + e.length) / cs) * cs);
        while (pos < end) {
          const n = Math.min(CHUNK, end - pos);
          const chunk = buf.subarray(0, n);
          await src.readAt(chunk, pos);
          await writeClusters(out, chunk, pos, cs, compress ? type : undefined);
          pos += n;
        }
        done = Math.max(done, end);
      }
      await out.flushMeta();
      await out.io.fsync();
    } finally {
      await out.close();
    }
    return 0;
  } finally {
    await src.close();
  }
}

/** Writes each non-zero cluster of `chunk` (guest offset `pos`): compressed when asked and smaller, else as is. */
async function writeClusters(out: Qcow2Dev, chunk: Uint8Array, pos: number, cs: number, compressType: number | undefined): Promise<void> {
  for (let at = 0; at < chunk.length; at += cs) {
    const cluster = chunk.subarray(at, Math.min(chunk.length, at + cs));
    if (isZero(cluster)) continue;
    if (compressType !== undefined) {
      // The disk's last cluster may be short: compressed, it is padded with zeros to a whole cluster, as QEMU does.
      const whole = cluster.length === cs ? cluster : padded(cluster, cs);
      const packed = compressCluster(compressType, whole);
      if (packed) {
        await out.writeCompressedCluster(pos + at, packed);
        continue;
      }
    }
    await out.writeAt(cluster, pos + at);
  }
}

function padded(b: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  out.set(b);
  return out;
}

function isZero(b: Uint8Array): boolean {
  const words = b.byteOffset % 4 === 0 && b.length % 4 === 0 ? new Uint32Array(b.buffer, b.byteOffset, b.length / 4) : b;
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  return true;
}
