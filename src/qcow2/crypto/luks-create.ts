/**
 * A new LUKS1 header and its key material, as QEMU's qcrypto_block_luks_create lays it out for qcow2: the 592-byte
 * header, then eight key slot areas from 4096 on, each the master key's anti-forensic split (4000 stripes) rounded
 * up to 4096 bytes; only slot 0 is used, the others are disabled and left zero. PBKDF2 iterations are calibrated
 * to `iterTime` ms as QEMU does (the master key digest gets an eighth, as cryptsetup). AES and PBKDF2 are node:crypto's.
 */
import { pbkdf2, randomBytes, randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { alignUp } from '../format/bytes';
import { Qcow2Error } from '../errors';
import { afSplit } from './af-merge';
import {
  LUKS_MAGIC,
  LUKS_SECTOR,
  LUKS_SLOTS,
  MAX_PBKDF2_ITERATIONS,
  MAX_STRIPES,
  keyMaterialBytes,
  type LuksHash,
  type LuksIvgen,
  type LuksMode,
} from './luks-header';
import { SectorCipher } from './sector-cipher';

const pbkdf2Async = promisify(pbkdf2);

/** `encrypt.*` of qemu-img create, with its defaults (aes-256, xts, plain64, sha256, 2000 ms). */
export interface LuksCreateOptions {
  format: 'luks';
  /** The secret's bytes (a string is taken as UTF-8). */
  passphrase: string | Uint8Array;
  cipherAlg?: 'aes-128' | 'aes-192' | 'aes-256';
  cipherMode?: LuksMode;
  ivgenAlg?: LuksIvgen;
  /** Hash of the essiv generator; only sha256 gives an AES key size, as in QEMU. */
  ivgenHashAlg?: LuksHash;
  hashAlg?: LuksHash;
  /** Milliseconds of PBKDF2 for the key slot (QEMU's default 2000). */
  iterTime?: number;
}

export type NormalizedLuksOptions = Required<Omit<LuksCreateOptions, 'passphrase'>> & Pick<LuksCreateOptions, 'passphrase'>;

const KEY_SLOT_OFFSET = 4096;
const MIN_ITERATIONS = 1000;
const DIGEST_BYTES = 20;
const HASH_BYTES: Record<LuksHash, number> = { sha1: 20, sha256: 32, sha512: 64 };

const fail = (file: string, reason: string) => new Qcow2Error('invalid-argument', reason, file);

/** Checks the options with QEMU's rules (and ours: only what this engine can read back); fills defaults in. */
export function normalizeLuksOptions(o: LuksCreateOptions, file: string): NormalizedLuksOptions {
  if ((o.format as string) !== 'luks') throw fail(file, `encryption format '${String(o.format)}' cannot be created (only luks; legacy AES is read-only)`);
  const n: NormalizedLuksOptions = {
    format: 'luks',
    passphrase: o.passphrase,
    cipherAlg: o.cipherAlg ?? 'aes-256',
    cipherMode: o.cipherMode ?? 'xts',
    ivgenAlg: o.ivgenAlg ?? 'plain64',
    ivgenHashAlg: o.ivgenHashAlg ?? 'sha256',
    hashAlg: o.hashAlg ?? 'sha256',
    iterTime: o.iterTime ?? 2000,
  };
  if (!['aes-128', 'aes-192', 'aes-256'].includes(n.cipherAlg)) throw fail(file, `Algorithm '${n.cipherAlg}' not supported`);
  if (n.cipherMode !== 'xts' && n.cipherMode !== 'cbc') throw fail(file, `Cipher mode '${String(n.cipherMode)}' not supported (use xts or cbc)`);
  if (!['plain', 'plain64', 'essiv'].includes(n.ivgenAlg)) throw fail(file, `Parameter 'ivgen-alg' does not accept value '${String(n.ivgenAlg)}'`);
  for (const [name, h] of [
    ['hash-alg', n.hashAlg],
    ['ivgen-hash-alg', n.ivgenHashAlg],
  ] as const) {
    if (!(h in HASH_BYTES)) throw fail(file, `Hash algorithm '${String(h)}' not supported for ${name} (use sha1, sha256 or sha512)`);
  }
  // QEMU keys ESSIV's AES with the hash of the master key: only a 32-byte digest is an AES key size.
  if (n.ivgenAlg === 'essiv' && n.ivgenHashAlg !== 'sha256') throw fail(file, `No AES cipher with key size ${HASH_BYTES[n.ivgenHashAlg]} available`);
  if (!Number.isSafeInteger(n.iterTime) || n.iterTime < 0) throw fail(file, `invalid encrypt.iter-time ${n.iterTime} (milliseconds, 0 or more)`);
  if (n.passphrase === undefined || n.passphrase.length === 0) throw fail(file, 'the encryption secret is empty');
  return n;
}

/** Master key bytes: the AES key, twice for XTS. */
export function luksKeyBytes(o: Pick<NormalizedLuksOptions, 'cipherAlg' | 'cipherMode'>): number {
  const aes = Number(o.cipherAlg.slice(4)) / 8;
  return o.cipherMode === 'xts' ? aes * 2 : aes;
}

/** Bytes of one key slot's area, and of the whole LUKS area (QEMU's payload offset). */
function slotAreaBytes(keyBytes: number): number {
  return alignUp(keyBytes * MAX_STRIPES, KEY_SLOT_OFFSET);
}

export function luksAreaBytes(o: Pick<NormalizedLuksOptions, 'cipherAlg' | 'cipherMode'>): number {
  return KEY_SLOT_OFFSET + LUKS_SLOTS * slotAreaBytes(luksKeyBytes(o));
}

/**
 * PBKDF2 iterations per millisecond for one hash-sized output block, measured as QEMU's qcrypto_pbkdf2_count_iters:
 * grow the count until a run takes long enough to time, in CPU time (the process's, as QEMU takes its thread's),
 * so a machine busy with other work does not make the count smaller.
 */
async function iterationsPerMs(hash: LuksHash, window: number): Promise<number> {
  const key = randomBytes(32);
  const salt = randomBytes(32);
  for (let iterations = 1 << 12; ;) {
    const start = process.cpuUsage();
    await pbkdf2Async(key, salt, iterations, DIGEST_BYTES, hash);
    const used = process.cpuUsage(start);
    const ms = (used.user + used.system) / 1000;
    if (ms >= window || iterations >= MAX_PBKDF2_ITERATIONS) return iterations / Math.max(ms, 0.001);
    iterations = Math.min(MAX_PBKDF2_ITERATIONS, ms < window / 10 ? iterations * 10 : Math.ceil((iterations * window * 1.2) / Math.max(ms, 0.001)));
  }
}

/** Bounded as our reader bounds them (MAX_PBKDF2_ITERATIONS), so every image we make opens here too. */
const clampIterations = (n: number): number => Math.min(MAX_PBKDF2_ITERATIONS, Math.max(MIN_ITERATIONS, Math.floor(n)));

function putText(b: Uint8Array, at: number, s: string): void {
  b.set(new TextEncoder().encode(s), at);
}

/** The LUKS area's bytes (header and every slot area, `luksAreaBytes` long), keyed by the options' passphrase. */
export async function buildLuksArea(o: NormalizedLuksOptions): Promise<Uint8Array> {
  const keyBytes = luksKeyBytes(o);
  const slotBytes = slotAreaBytes(keyBytes);
  const area = new Uint8Array(luksAreaBytes(o));
  const view = new DataView(area.buffer);
  const masterKey = randomBytes(keyBytes);
  const rate = await iterationsPerMs(o.hashAlg, Math.min(500, Math.max(50, o.iterTime)));
  const blocks = (n: number) => Math.ceil(n / HASH_BYTES[o.hashAlg]);
  const mkIterations = clampIterations((rate * o.iterTime) / 8 / blocks(DIGEST_BYTES));
  const slotIterations = clampIterations((rate * o.iterTime) / blocks(keyBytes));
  const mkSalt = randomBytes(32);
  const digest = await pbkdf2Async(masterKey, mkSalt, mkIterations, DIGEST_BYTES, o.hashAlg);

  area.set(LUKS_MAGIC, 0);
  view.setUint16(6, 1);
  putText(area, 8, 'aes');
  putText(area, 40, `${o.cipherMode}-${o.ivgenAlg === 'essiv' ? `essiv:${o.ivgenHashAlg}` : o.ivgenAlg}`);
  putText(area, 72, o.hashAlg);
  view.setUint32(104, area.length / LUKS_SECTOR);
  view.setUint32(108, keyBytes);
  area.set(digest, 112);
  area.set(mkSalt, 132);
  view.setUint32(164, mkIterations);
  putText(area, 168, randomUUID());
  for (let i = 0; i < LUKS_SLOTS; i++) {
    const at = 208 + i * 48;
    view.setUint32(at, i === 0 ? 0x00ac71f3 : 0x0000dead);
    view.setUint32(at + 40, (KEY_SLOT_OFFSET + i * slotBytes) / LUKS_SECTOR);
    view.setUint32(at + 44, MAX_STRIPES);
  }

  // Slot 0: the split master key, encrypted with the passphrase's PBKDF2 key in the data cipher (sectors from 0).
  const passphrase = typeof o.passphrase === 'string' ? new TextEncoder().encode(o.passphrase) : o.passphrase;
  const slotSalt = randomBytes(32);
  const slotKey = await pbkdf2Async(passphrase, slotSalt, slotIterations, keyBytes, o.hashAlg);
  const material = new Uint8Array(keyMaterialBytes(keyBytes, MAX_STRIPES));
  material.set(afSplit(masterKey, MAX_STRIPES, o.hashAlg));
  new SectorCipher(o.cipherMode, slotKey, o.ivgenAlg, o.ivgenHashAlg).encrypt(material, 0);
  area.set(material, KEY_SLOT_OFFSET);
  view.setUint32(208 + 4, slotIterations);
  area.set(slotSalt, 208 + 8);
  return area;
}
