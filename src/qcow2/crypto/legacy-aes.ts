/**
 * Legacy qcow2 AES (crypt_method 1): AES-128-CBC, IV = the guest sector number (plain64), and as key the
 * passphrase bytes, cut to 16 or padded with zero bytes (QEMU's qcrypto_block_qcow_init; no key derivation).
 */
export function legacyAesKey(passphrase: Uint8Array): Uint8Array {
  const key = new Uint8Array(16);
  key.set(passphrase.subarray(0, 16));
  return key;
}
