/**
 * The key to an encrypted qcow2 image, as the device uses it: decrypt and encrypt 512-byte sectors of guest
 * data. LUKS (crypt_method 2) numbers sectors by their host offset in the file, legacy AES (crypt_method 1) by
 * their guest offset, as QEMU's crypt_physical_offset decides.
 */
import { badImage, Qcow2Error } from '../errors';
import type { Qcow2Header } from '../format/header';
import type { Qcow2IoOps } from '../io/ops';
import { readLuksHeader, unlockLuks } from './luks-unlock';
import { SectorCipher, SECTOR } from './sector-cipher';
import { legacyAesKey } from './legacy-aes';

/** How an encrypted image is unlocked. */
export interface EncryptionKey {
  /** The secret's bytes (a string is taken as UTF-8), as QEMU's `--object secret,data=…`. */
  passphrase: string | Uint8Array;
}

export interface ImageCrypto {
  readonly format: 'luks' | 'aes';
  /** True when sector numbers come from host offsets (LUKS), false for guest offsets (legacy AES). */
  readonly physical: boolean;
  /** Writing is supported (LUKS); legacy AES is read-only here. */
  readonly writable: boolean;
  /** `offset` is the host or guest byte offset of buf[0] (see `physical`); both sector-aligned. */
  decrypt(buf: Uint8Array, offset: number): void;
  encrypt(buf: Uint8Array, offset: number): void;
}

function wrap(format: 'luks' | 'aes', cipher: SectorCipher, file: string): ImageCrypto {
  // node:crypto's errors (none expected once the header is validated) still leave as one-line engine errors.
  const guarded = (fn: () => void) => {
    try {
      fn();
    } catch (err) {
      throw new Qcow2Error('unsupported', `${cipher.description}: ${(err as Error).message}`, file);
    }
  };
  return {
    format,
    physical: format === 'luks',
    writable: format === 'luks',
    decrypt: (buf, offset) => guarded(() => cipher.decrypt(buf, offset / SECTOR)),
    encrypt: (buf, offset) => guarded(() => cipher.encrypt(buf, offset / SECTOR)),
  };
}

/** Unlocks an image's encryption with `key`; a wrong passphrase is "no key slot matches this passphrase". */
export async function openImageCrypto(io: Qcow2IoOps, header: Qcow2Header, fileSize: number, key: EncryptionKey, file: string): Promise<ImageCrypto> {
  const passphrase = typeof key.passphrase === 'string' ? new TextEncoder().encode(key.passphrase) : key.passphrase;
  if (header.cryptMethod === 1) return wrap('aes', new SectorCipher('cbc', legacyAesKey(passphrase), 'plain64'), file);
  if (header.cryptMethod !== 2) throw new Qcow2Error('unsupported', `unknown encryption method ${header.cryptMethod}`, file);
  const area = header.extensions.crypto;
  if (!area) throw new Qcow2Error('bad-image', 'LUKS-encrypted image has no encryption header extension', file);
  const luks = await readLuksHeader(io, area, fileSize, file);
  return wrap('luks', await unlockLuks(io, area.offset, luks, passphrase, file), file);
}

/**
 * The key of an image being opened: none for a plain image or without `key`. A LUKS image without its header
 * extension is refused even without a key (qemu-img info crashes on such a file).
 */
export async function openHeaderCrypto(io: Qcow2IoOps, header: Qcow2Header, fileSize: number, key?: EncryptionKey): Promise<ImageCrypto | undefined> {
  if (header.cryptMethod === 2 && !header.extensions.crypto) throw badImage(io.path, 'image is encrypted (LUKS) but has no encryption header extension');
  if (header.cryptMethod === 0 || !key) return undefined;
  return openImageCrypto(io, header, fileSize, key, io.path);
}

/** The bytes to store at `offset`: with a key, an encrypted copy (whole sectors); without, the bytes themselves. */
export function encryptedCopy(crypto: ImageCrypto | undefined, plain: Uint8Array, offset: number): Uint8Array {
  if (!crypto) return plain;
  const out = plain.slice();
  crypto.encrypt(out, offset);
  return out;
}
