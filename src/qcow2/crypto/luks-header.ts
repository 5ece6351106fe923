/**
 * The LUKS1 header QEMU stores in a qcow2 image's full-disk-encryption header extension (crypt_method 2).
 * Pure parsing, no I/O and no key work: everything the file controls (iterations, stripes, key size, where the
 * key material lies) is bounded here, before anything runs it. Layout: the LUKS1 on-disk format (592 bytes,
 * big-endian), key slot offsets in 512-byte sectors from the start of the LUKS header.
 */
import { u16, u32 } from '../format/bytes';
import { badImage, Qcow2Error } from '../errors';

export const LUKS_MAGIC = [0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe];
export const LUKS_HEADER_BYTES = 592;
export const LUKS_SECTOR = 512;
export const LUKS_SLOTS = 8;
const SLOT_ENABLED = 0x00ac71f3;
const SLOT_DISABLED = 0x0000dead;
const DIGEST_BYTES = 20;
/** LUKS1 (and QEMU) always use 4000 stripes; more would only let a file make us hash for longer. */
export const MAX_STRIPES = 4000;
/**
 * PBKDF2 iterations per slot (and for the digest). QEMU stores up to UINT32_MAX; a 2 s benchmark on a fast CPU
 * gives a few million. Above 2^24 (~10 s of sha256 here) the header is refused as hostile rather than run.
 */
export const MAX_PBKDF2_ITERATIONS = 1 << 24;

export type LuksHash = 'sha1' | 'sha256' | 'sha512';
export type LuksMode = 'xts' | 'cbc';
export type LuksIvgen = 'plain' | 'plain64' | 'essiv';

export interface LuksKeySlot {
  index: number;
  active: boolean;
  iterations: number;
  salt: Uint8Array;
  /** Byte offset of the key material from the start of the LUKS header. */
  keyOffset: number;
  stripes: number;
}

export interface LuksHeader {
  cipherName: string;
  cipherMode: string;
  hashSpec: string;
  mode: LuksMode;
  ivgen: LuksIvgen;
  /** Hash of the essiv generator (essiv only). */
  ivHash?: LuksHash;
  hash: LuksHash;
  /** Master key bytes (twice the AES key for xts). */
  keyBytes: number;
  /** Byte offset of the payload (unused by qcow2, shown by qemu-img info). */
  payloadOffset: number;
  mkDigest: Uint8Array;
  mkDigestSalt: Uint8Array;
  mkDigestIterations: number;
  uuid: string;
  slots: LuksKeySlot[];
}

const HASHES: readonly string[] = ['sha1', 'sha256', 'sha512'];

function text(b: Uint8Array, off: number, len: number): string {
  const field = b.subarray(off, off + len);
  const nul = field.indexOf(0);
  return String.fromCharCode(...field.subarray(0, nul < 0 ? len : nul));
}

/** Bytes of key material a slot holds, rounded up to whole sectors. */
export function keyMaterialBytes(keyBytes: number, stripes: number): number {
  return Math.ceil((keyBytes * stripes) / LUKS_SECTOR) * LUKS_SECTOR;
}

/**
 * Parses and bounds a LUKS1 header. `areaLength` is the length of the LUKS area the qcow2 header extension
 * gives (the header and every slot's key material must lie inside it).
 */
export function parseLuksHeader(b: Uint8Array, areaLength: number, file: string): LuksHeader {
  const bad = (what: string) => badImage(file, `LUKS header: ${what}`);
  if (b.length < LUKS_HEADER_BYTES || areaLength < LUKS_HEADER_BYTES) throw bad('truncated');
  if (!LUKS_MAGIC.every((m, i) => b[i] === m)) throw bad('bad magic');
  const version = u16(b, 6);
  if (version !== 1) throw new Qcow2Error('unsupported', `LUKS header version ${version} is not supported (only LUKS1)`, file);
  const cipherName = text(b, 8, 32);
  const cipherMode = text(b, 40, 32);
  const hashSpec = text(b, 72, 32);
  if (cipherName !== 'aes') throw new Qcow2Error('unsupported', `LUKS cipher '${cipherName.slice(0, 32)}' is not supported (only aes)`, file);
  if (!HASHES.includes(hashSpec)) throw new Qcow2Error('unsupported', `LUKS hash '${hashSpec.slice(0, 32)}' is not supported`, file);
  const m = /^(xts|cbc)-(plain|plain64|essiv:(sha256))$/.exec(cipherMode);
  if (!m) throw new Qcow2Error('unsupported', `LUKS cipher mode '${cipherMode.slice(0, 32)}' is not supported`, file);
  const mode = m[1] as LuksMode;
  const ivgen = m[2].startsWith('essiv') ? 'essiv' : (m[2] as LuksIvgen);
  const keyBytes = u32(b, 108);
  const validKeys = mode === 'xts' ? [32, 48, 64] : [16, 24, 32];
  if (!validKeys.includes(keyBytes)) throw bad(`key size ${keyBytes} is invalid for aes-${mode}`);
  const mkDigestIterations = u32(b, 164);
  if (mkDigestIterations === 0 || mkDigestIterations > MAX_PBKDF2_ITERATIONS) {
    throw bad(`master key digest iteration count ${mkDigestIterations} is outside 1..${MAX_PBKDF2_ITERATIONS}`);
  }
  const slots: LuksKeySlot[] = [];
  for (let i = 0; i < LUKS_SLOTS; i++) {
    const at = 208 + i * 48;
    const state = u32(b, at);
    if (state !== SLOT_ENABLED && state !== SLOT_DISABLED) throw bad(`key slot ${i} has invalid state 0x${state.toString(16)}`);
    const slot: LuksKeySlot = {
      index: i,
      active: state === SLOT_ENABLED,
      iterations: u32(b, at + 4),
      salt: b.slice(at + 8, at + 40),
      keyOffset: u32(b, at + 40) * LUKS_SECTOR,
      stripes: u32(b, at + 44),
    };
    if (slot.active) {
      if (slot.iterations === 0 || slot.iterations > MAX_PBKDF2_ITERATIONS) {
        throw bad(`key slot ${i} iteration count ${slot.iterations} is outside 1..${MAX_PBKDF2_ITERATIONS}`);
      }
      if (slot.stripes === 0 || slot.stripes > MAX_STRIPES) throw bad(`key slot ${i} stripe count ${slot.stripes} is outside 1..${MAX_STRIPES}`);
      if (slot.keyOffset < LUKS_HEADER_BYTES || slot.keyOffset + keyMaterialBytes(keyBytes, slot.stripes) > areaLength) {
        throw bad(`key slot ${i} key material lies outside the LUKS area`);
      }
    }
    slots.push(slot);
  }
  if (!slots.some((s) => s.active)) throw bad('no active key slot');
  return {
    cipherName,
    cipherMode,
    hashSpec,
    mode,
    ivgen,
    ivHash: m[3] as LuksHash | undefined,
    hash: hashSpec as LuksHash,
    keyBytes,
    payloadOffset: u32(b, 104) * LUKS_SECTOR,
    mkDigest: b.slice(112, 112 + DIGEST_BYTES),
    mkDigestSalt: b.slice(132, 164),
    mkDigestIterations,
    uuid: text(b, 168, 40),
    slots,
  };
}
