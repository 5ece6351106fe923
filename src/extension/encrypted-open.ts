/**
 * Encrypted images (AES or LUKS) open without a key for what is not secret: the header, its extensions, the
 * tables, snapshots, bitmaps and the allocation map. The engine refuses them at the header without a key, so
 * the header's crypt_method field is masked to 0 while opening, then put back; guest reads are refused, because
 * they would be ciphertext. Always read-only. Unlocking (commands/unlock.ts) reopens the image with its key.
 */
import { openImage, NodeFileIo, Qcow2Error, type OpenOptions, type Qcow2Dev, type Qcow2IoOps } from '../qcow2';

/** Byte offset of the header's crypt_method field (u32, big-endian). */
const CRYPT_METHOD_OFFSET = 32;

/** True for the engine's refusal of an encrypted image. */
export function isEncryptedRefusal(reason: string): boolean {
  return /image is encrypted \(/.test(reason);
}

/** A read-only io that reads crypt_method as 0 and keeps the real value aside. */
async function maskingIo(path: string): Promise<{ io: Qcow2IoOps; cryptMethod: number }> {
  const io = await NodeFileIo.open(path, true);
  const field = new Uint8Array(4);
  await io.readAt(field, CRYPT_METHOD_OFFSET);
  const cryptMethod = new DataView(field.buffer).getUint32(0);
  const mask = (buf: Uint8Array, offset: number, n: number) => {
    for (let i = CRYPT_METHOD_OFFSET; i < CRYPT_METHOD_OFFSET + 4; i++) if (i >= offset && i < offset + n) buf[i - offset] = 0;
  };
  const wrapped: Qcow2IoOps = Object.create(io, {
    readAt: {
      value: async (buf: Uint8Array, offset: number) => {
        const n = await io.readAt(buf, offset);
        mask(buf, offset, n);
        return n;
      },
    },
    readAtSync: {
      value:
        io.readAtSync &&
        ((buf: Uint8Array, offset: number) => {
          const n = io.readAtSync!(buf, offset);
          mask(buf, offset, n);
          return n;
        }),
    },
  });
  return { io: wrapped, cryptMethod };
}

/** Opens an encrypted image read-only, without its backing chain, for the overview and the map. */
export async function openEncryptedForOverview(path: string, opts: Omit<OpenOptions, 'readOnly' | 'openIo' | 'openBacking'> = {}): Promise<Qcow2Dev> {
  let cryptMethod = 0;
  const dev = await openImage(path, {
    ...opts,
    readOnly: true,
    openBacking: false,
    openIo: async (p) => {
      const m = await maskingIo(p);
      cryptMethod = m.cryptMethod;
      return m.io;
    },
  });
  dev.header.cryptMethod = cryptMethod;
  const kind = cryptMethod === 1 ? 'AES' : cryptMethod === 2 ? 'LUKS' : `method ${cryptMethod}`;
  // Guest bytes are ciphertext: no reads of them (the map, which says only where clusters are, still works).
  dev.readAt = async () => {
    throw new Qcow2Error('unsupported', `image is encrypted (${kind}); guest data cannot be read until it is unlocked with its passphrase`, path);
  };
  return dev;
}
