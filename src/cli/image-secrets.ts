/**
 * Keys for encrypted images, the way qemu-img takes them: `--object secret,id=ID,data=…|file=…[,format=raw|base64]`
 * with `--image-opts` IMAGE given as `driver=qcow2,file.filename=PATH,encrypt.key-secret=ID[,backing.encrypt.key-secret=ID]`;
 * and, simpler, `--passphrase-file FILE` (one passphrase for every encrypted layer). Commands take these out of
 * argv first, then turn each IMAGE argument into a path and the open options that carry its keys.
 */
import { readFileSync } from 'node:fs';
import { UsageError } from './args';
import { Qcow2Error, type EncryptionKey, type OpenOptions } from '../qcow2';
import type { CliIo } from './command';

export type KeyOptions = Pick<OpenOptions, 'encryptionKey' | 'secretFor'>;

export interface ImageSpec {
  path: string;
  keys: KeyOptions;
  driver?: 'qcow2' | 'raw';
}

export interface ImageArgs {
  /** argv without the secret and image-opts options. */
  argv: string[];
  /**
   * An IMAGE argument (a path, or with --image-opts an option list) as a path, its key options and the driver
   * it names; `driver=raw` only where `allowRaw` (compare).
   */
  image(spec: string, allowRaw?: boolean): ImageSpec;
  /** The bytes of `--object secret,id=ID`, if given. */
  secret(id: string): Uint8Array | undefined;
  /** The bytes of `--passphrase-file`, if given. */
  passphraseFile?: Uint8Array;
}

const WARN_DATA = 'qcow2-inspector: warning: a secret given with data= shows in the process list; use file= or --passphrase-file instead\n';

/** Takes `--object`, `--image-opts` and `--passphrase-file` (with a space or `=`) out of argv. */
export function takeImageArgs(argv: string[], io: Pick<CliIo, 'stderr'>): ImageArgs {
  const rest: string[] = [];
  const secrets = new Map<string, Uint8Array>();
  let imageOpts = false;
  let passphraseFile: Uint8Array | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    const [name, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    if (name === '--image-opts' && inline === undefined) imageOpts = true;
    else if (name === '--object' || name === '--passphrase-file') {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`option ${name} needs a value`);
      if (name === '--passphrase-file') passphraseFile = readPassphraseFile(value);
      else addSecret(secrets, value, io);
    } else rest.push(a);
  }
  return {
    argv: rest,
    image(spec, allowRaw = false) {
      if (!imageOpts) return { path: spec, keys: passphraseFile ? everyLayer(passphraseFile) : {} };
      return parseImageOpts(spec, secrets, allowRaw, passphraseFile);
    },
    secret: (id) => secrets.get(id),
    passphraseFile,
  };
}

const everyLayer = (passphrase: Uint8Array): KeyOptions => ({ secretFor: () => ({ passphrase }) });

/** `--passphrase-file`: the file's bytes, without one trailing newline (so `echo pw > FILE` works). */
function readPassphraseFile(path: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    throw new Qcow2Error('io', `cannot read the passphrase file: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, path);
  }
  const end = bytes[bytes.length - 1] === 0x0a ? (bytes[bytes.length - 2] === 0x0d ? bytes.length - 2 : bytes.length - 1) : bytes.length;
  return bytes.subarray(0, end);
}

function splitOptions(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of text.split(',')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    out.set(eq < 0 ? part : part.slice(0, eq), eq < 0 ? 'on' : part.slice(eq + 1));
  }
  return out;
}

/** `secret,id=ID,data=…|file=…[,format=raw|base64]`; other object types are refused. */
function addSecret(secrets: Map<string, Uint8Array>, text: string, io: Pick<CliIo, 'stderr'>): void {
  const type = text.split(',', 1)[0];
  if (type !== 'secret') throw new UsageError(`--object ${type}: only secret objects are supported`);
  const o = splitOptions(text.slice(type.length + 1));
  const id = o.get('id');
  if (!id) throw new UsageError('--object secret needs id=');
  const data = o.get('data');
  const file = o.get('file');
  if ((data === undefined) === (file === undefined)) throw new UsageError(`--object secret,id=${id} needs exactly one of data= or file=`);
  let bytes: Uint8Array;
  if (data !== undefined) {
    io.stderr.write(WARN_DATA);
    bytes = Buffer.from(data, 'utf8');
  } else {
    try {
      bytes = readFileSync(file!);
    } catch (err) {
      throw new Qcow2Error('io', `cannot read secret '${id}': ${(err as NodeJS.ErrnoException).code ?? String(err)}`, file);
    }
  }
  const format = o.get('format') ?? 'raw';
  if (format === 'base64') bytes = Buffer.from(Buffer.from(bytes).toString('latin1'), 'base64');
  else if (format !== 'raw') throw new UsageError(`--object secret,id=${id}: format must be raw or base64`);
  secrets.set(id, bytes);
}

/** `driver=qcow2,file.filename=PATH[,encrypt.key-secret=ID][,backing.encrypt.key-secret=ID]`. */
function parseImageOpts(spec: string, secrets: Map<string, Uint8Array>, allowRaw: boolean, passphraseFile?: Uint8Array): ImageSpec {
  const o = splitOptions(spec);
  const driver = o.get('driver');
  if (driver !== undefined && driver !== 'qcow2' && !(allowRaw && driver === 'raw')) {
    throw new UsageError(`--image-opts: driver '${driver}' is not supported here (${allowRaw ? 'qcow2 or raw' : 'qcow2 only'})`);
  }
  const path = o.get('file.filename');
  if (!path) throw new UsageError('--image-opts needs file.filename=PATH');
  const known = new Set(['driver', 'file.filename', 'file.driver', 'encrypt.key-secret', 'encrypt.format', 'backing.encrypt.key-secret']);
  for (const k of o.keys()) if (!known.has(k)) throw new UsageError(`--image-opts: option '${k}' is not supported`);
  const secret = (key: string): EncryptionKey | undefined => {
    const id = o.get(key);
    if (id === undefined) return undefined;
    const bytes = secrets.get(id);
    if (!bytes) throw new UsageError(`no secret with id '${id}' (give it with --object secret,id=${id},file=…)`);
    return { passphrase: bytes };
  };
  const top = secret('encrypt.key-secret') ?? (passphraseFile && { passphrase: passphraseFile });
  const backing = secret('backing.encrypt.key-secret') ?? (passphraseFile && { passphrase: passphraseFile });
  return { path, keys: { encryptionKey: top, secretFor: backing && (() => backing) }, driver: driver as ImageSpec['driver'] };
}
