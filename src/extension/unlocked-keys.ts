/**
 * The keys of the images unlocked in this window, by image path, in memory only (the extension host's): the
 * editor's document, its Files tab and the guest-disk search open their own devices and take the key from here.
 * Never posted to a webview, never written anywhere. No vscode import.
 */
import type { EncryptionKey } from '../qcow2';

const keys = new Map<string, EncryptionKey>();

export function unlockedKey(path: string): EncryptionKey | undefined {
  return keys.get(path);
}

export function rememberUnlockedKey(path: string, key: EncryptionKey): void {
  keys.set(path, key);
}

export function forgetUnlockedKey(path: string): void {
  keys.delete(path);
}

/** Open options that carry the key to every encrypted layer (one passphrase for the chain, as --passphrase-file). */
export function keyOptions(key: EncryptionKey | undefined): { encryptionKey?: EncryptionKey; secretFor?: () => EncryptionKey } {
  return key ? { encryptionKey: key, secretFor: () => key } : {};
}
