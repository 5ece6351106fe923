/** LUKS-encrypted qcow2 fixtures: qemu-img/qemu-io invocations with the secret, as qemu-img's documentation shows. */
import { readFileSync } from 'node:fs';
import { createLuksImage, qemuImg, qemuIo } from './qemu';

export const PASSPHRASE = 'correct horse';

/** `--object secret,…` for qemu-img and qemu-io. */
export const secretObject = (passphrase = PASSPHRASE): string[] => ['--object', `secret,id=sec0,data=${passphrase}`];

/** The `--image-opts` string naming an encrypted qcow2 with its secret. */
export const imageOpts = (path: string, backingEncrypted = false): string =>
  `driver=qcow2,file.filename=${path},encrypt.key-secret=sec0${backingEncrypted ? ',backing.encrypt.key-secret=sec0' : ''}`;

/** A LUKS image from qemu-img create; `extra` adds -o options (cipher, mode, ivgen, hash, cluster_size...). */
export function makeLuks(path: string, size: string, extra?: string): string {
  createLuksImage(path, size, { passphrase: PASSPHRASE, extra });
  return path;
}

/** qemu-io commands on an encrypted image. */
export function luksIo(path: string, cmds: string[], backingEncrypted = false): void {
  qemuIo(imageOpts(path, backingEncrypted), cmds, [...secretObject(), '--image-opts']);
}

/** The guest view through qemu-img convert with the secret. */
export function luksGuestBytes(path: string, raw: string, backingEncrypted = false): Uint8Array {
  qemuImg(['convert', ...secretObject(), '--image-opts', imageOpts(path, backingEncrypted), '-O', 'raw', raw]);
  return new Uint8Array(readFileSync(raw));
}

/** qemu-img compare (with the secret) against a raw file: exit code and text. */
export function luksCompare(path: string, raw: string): { code: number; text: string } {
  const r = qemuImg(['compare', ...secretObject(), '--image-opts', imageOpts(path), `driver=raw,file.filename=${raw}`], true);
  return { code: r.code, text: r.stdout + r.stderr };
}

/** qemu-img check (with the secret), as JSON. */
export function luksCheck(path: string): { code: number; json: Record<string, unknown>; text: string } {
  const r = qemuImg(['check', '--output=json', ...secretObject(), '--image-opts', imageOpts(path)], true);
  return { code: r.code, json: JSON.parse(r.stdout || '{}'), text: r.stdout + r.stderr };
}
