/**
 * Remembered passphrases, in VS Code's SecretStorage (the OS keychain), never in settings or on disk in the clear.
 * Keyed by the image's identity: its LUKS header UUID and its path. The UUID alone would also match copies of the
 * image (same header, same passphrase, but the user unlocked one file, not every copy that may turn up); the path
 * alone would hand the secret to a different image later made at that path. Legacy AES has no UUID: path only.
 */
import type * as vscode from 'vscode';
import { readLuksHeader, type Qcow2Dev } from '../qcow2';

const PREFIX = 'qcow2Inspector.passphrase:';

/** The identity a passphrase is remembered under, from the header (read without the key). */
export async function imageIdentity(dev: Pick<Qcow2Dev, 'header' | 'io' | 'fileSize' | 'path'>): Promise<string> {
  const area = dev.header.cryptMethod === 2 ? dev.header.extensions.crypto : undefined;
  const uuid = area ? (await readLuksHeader(dev.io, area, dev.fileSize, dev.path)).uuid : 'aes';
  return `${PREFIX}${uuid}:${dev.path}`;
}

export class PassphraseStore {
  constructor(private readonly secrets: vscode.SecretStorage) {}

  get(identity: string): Thenable<string | undefined> {
    return this.secrets.get(identity);
  }

  store(identity: string, passphrase: string): Thenable<void> {
    return this.secrets.store(identity, passphrase);
  }

  delete(identity: string): Thenable<void> {
    return this.secrets.delete(identity);
  }
}
