/**
 * The `encrypt.*` options of `create`, as qemu-img 7.2 takes them (`-o encrypt.format=luks,encrypt.key-secret=ID`
 * with `--object secret,id=ID,…`, or our `--passphrase-file`), turned into the engine's LUKS options; errors
 * in qemu-img's words where it has them. Taken out of the option map, so the rest is checked as before.
 */
import { Qcow2Error, type LuksCreateOptions } from '../qcow2';
import type { ImageArgs } from './image-secrets';

/** In qemu-img's order (its create options list), for the "Formatting" line. */
export const ENCRYPT_KEYS = [
  'encrypt.format',
  'encrypt.key-secret',
  'encrypt.cipher-alg',
  'encrypt.cipher-mode',
  'encrypt.ivgen-alg',
  'encrypt.ivgen-hash-alg',
  'encrypt.hash-alg',
  'encrypt.iter-time',
];

/** The values QEMU's QAPI enums accept (some of which this engine cannot make; the engine says so). */
const QEMU_VALUES: Record<string, string[]> = {
  'cipher-mode': ['ecb', 'cbc', 'xts', 'ctr'],
  'ivgen-alg': ['plain', 'plain64', 'essiv'],
  'ivgen-hash-alg': ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'ripemd160'],
  'hash-alg': ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512', 'ripemd160'],
};

/**
 * Removes `encrypt` and `encrypt.*` from `o` and returns the LUKS options, or undefined for an unencrypted image.
 * `echo` gets the `encrypt.*` pairs as given, for the "Formatting" line.
 */
export function encryptOptionsFrom(
  o: Map<string, string>,
  path: string,
  secrets: Pick<ImageArgs, 'secret' | 'passphraseFile'>,
  echo: string[],
): LuksCreateOptions | undefined {
  const fail = (reason: string) => new Qcow2Error('invalid-argument', reason, path);
  const given = new Map<string, string>();
  for (const [k, v] of [...o]) {
    if (k !== 'encrypt' && !k.startsWith('encrypt.')) continue;
    if (k !== 'encrypt' && !ENCRYPT_KEYS.includes(k)) throw fail(`Invalid parameter '${k}'`);
    given.set(k, v);
    o.delete(k);
  }
  if (given.size === 0) return undefined;
  for (const k of ENCRYPT_KEYS) if (given.has(k)) echo.push(`${k}=${given.get(k)}`);
  const legacy = given.get('encrypt');
  if (legacy !== undefined && legacy !== 'off' && legacy !== 'false')
    throw fail('creating legacy AES-encrypted images is not supported (use encrypt.format=luks)');
  const format = given.get('encrypt.format');
  if (format === undefined) {
    if (legacy !== undefined && given.size === 1) return undefined;
    throw fail("Parameter 'encrypt.format' is missing");
  }
  if (format === 'aes') throw fail('creating legacy AES-encrypted images is not supported (use encrypt.format=luks)');
  if (format !== 'luks') throw fail(`Parameter 'format' does not accept value '${format}'`);
  const id = given.get('encrypt.key-secret');
  let passphrase: Uint8Array | undefined;
  if (id !== undefined) {
    passphrase = secrets.secret(id);
    if (!passphrase) throw fail(`No secret with id '${id}'`);
  } else passphrase = secrets.passphraseFile;
  if (!passphrase) throw fail("Parameter 'encrypt.key-secret' is required for cipher");
  const choice = (name: string): string | undefined => {
    const v = given.get(`encrypt.${name}`);
    if (v !== undefined && QEMU_VALUES[name] && !QEMU_VALUES[name].includes(v)) throw fail(`Parameter '${name}' does not accept value '${v}'`);
    return v;
  };
  const iterText = given.get('encrypt.iter-time');
  if (iterText !== undefined && !/^\d+$/.test(iterText)) throw fail("Parameter 'encrypt.iter-time' expects a number");
  return {
    format: 'luks',
    passphrase,
    cipherAlg: choice('cipher-alg') as LuksCreateOptions['cipherAlg'],
    cipherMode: choice('cipher-mode') as LuksCreateOptions['cipherMode'],
    ivgenAlg: choice('ivgen-alg') as LuksCreateOptions['ivgenAlg'],
    ivgenHashAlg: choice('ivgen-hash-alg') as LuksCreateOptions['ivgenHashAlg'],
    hashAlg: choice('hash-alg') as LuksCreateOptions['hashAlg'],
    iterTime: iterText === undefined ? undefined : Number(iterText),
  };
}
