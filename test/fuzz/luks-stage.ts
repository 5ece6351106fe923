/**
 * The LUKS part of the fuzz target: when the input's header names a full-disk-encryption extension, its LUKS
 * header goes through parseLuksHeader; when that accepts it with small PBKDF2 counts (so one input stays within the
 * CPU limit), the image is opened with a passphrase, which runs key derivation, slot decryption, the AF merge and
 * the digest check, and a read goes through decryption. Every failure must be the engine's one-line error.
 */
import { parseHeader } from '../../src/qcow2/format/header';
import { parseLuksHeader, LUKS_HEADER_BYTES } from '../../src/qcow2/crypto/luks-header';
import { openImage } from '../../src/qcow2/open';
import { expectEngineError } from './finding';
import { FUZZ_PATH, ReadOnlyGuardIo } from './fuzz-io';

/** Above this many PBKDF2 iterations in total the input is parsed only, not unlocked. */
const MAX_FUZZ_ITERATIONS = 20_000;

export async function luksOnly(bytes: Uint8Array): Promise<void> {
  let area: { offset: number; length: number } | undefined;
  try {
    area = parseHeader(bytes, FUZZ_PATH, bytes.length, false, { allowEncrypted: true }).extensions.crypto;
  } catch (err) {
    expectEngineError(err, 'luks header');
    return;
  }
  if (!area || area.offset >= bytes.length) return;
  let iterations: number;
  try {
    const h = parseLuksHeader(bytes.subarray(area.offset, area.offset + Math.min(area.length, LUKS_HEADER_BYTES)), area.length, FUZZ_PATH);
    iterations = h.mkDigestIterations + h.slots.reduce((n, s) => n + (s.active ? s.iterations : 0), 0);
  } catch (err) {
    expectEngineError(err, 'luks parse');
    return;
  }
  if (iterations > MAX_FUZZ_ITERATIONS) return;
  try {
    const dev = await openImage(FUZZ_PATH, {
      readOnly: true,
      openBacking: false,
      encryptionKey: { passphrase: 'fuzz' },
      openIo: async (p) => new ReadOnlyGuardIo(bytes, p),
    });
    try {
      await dev.readAt(new Uint8Array(Math.min(dev.virtualSize, 4096)), 0);
    } finally {
      await dev.close();
    }
  } catch (err) {
    expectEngineError(err, 'luks open');
  }
}
