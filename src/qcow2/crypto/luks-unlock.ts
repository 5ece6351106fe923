/**
 * Unlocking a LUKS1 header with a passphrase: for each active key slot, PBKDF2 of the passphrase with the slot's
 * salt and iterations gives the key that decrypts the slot's key material (sector numbers from 0, as LUKS does);
 * the anti-forensic merge of that material is a candidate master key, accepted when its PBKDF2 digest matches.
 */
import { pbkdf2, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';
import { badImage, Qcow2Error } from '../errors';
import { readFully, type Qcow2IoOps } from '../io/ops';
import { afMerge } from './af-merge';
import { keyMaterialBytes, LUKS_HEADER_BYTES, parseLuksHeader, type LuksHeader } from './luks-header';
import { SectorCipher } from './sector-cipher';

const pbkdf2Async = promisify(pbkdf2);

/** Reads and parses the LUKS header at `area` in the image file, bounded by the file's size. */
export async function readLuksHeader(io: Qcow2IoOps, area: { offset: number; length: number }, fileSize: number, file: string): Promise<LuksHeader> {
  if (area.offset + area.length > fileSize) throw badImage(file, 'LUKS area lies beyond the end of the file');
  const b = new Uint8Array(Math.min(area.length, LUKS_HEADER_BYTES));
  if ((await readFully(io, b, area.offset)) < b.length) throw badImage(file, 'LUKS header: truncated');
  return parseLuksHeader(b, area.length, file);
}

/** Finds the master key for `passphrase`, trying every active slot; the data cipher keyed with it. */
export async function unlockLuks(io: Qcow2IoOps, areaOffset: number, h: LuksHeader, passphrase: Uint8Array, file: string): Promise<SectorCipher> {
  for (const slot of h.slots) {
    if (!slot.active) continue;
    const slotKey = await pbkdf2Async(passphrase, slot.salt, slot.iterations, h.keyBytes, h.hash);
    const material = new Uint8Array(keyMaterialBytes(h.keyBytes, slot.stripes));
    if ((await readFully(io, material, areaOffset + slot.keyOffset)) < material.length) {
      throw badImage(file, `LUKS key slot ${slot.index} key material lies beyond the end of the file`);
    }
    new SectorCipher(h.mode, slotKey, h.ivgen, h.ivHash).decrypt(material, 0);
    const masterKey = afMerge(material, h.keyBytes, slot.stripes, h.hash);
    const digest = await pbkdf2Async(masterKey, h.mkDigestSalt, h.mkDigestIterations, h.mkDigest.length, h.hash);
    if (timingSafeEqual(digest, h.mkDigest)) return new SectorCipher(h.mode, masterKey, h.ivgen, h.ivHash);
  }
  throw new Qcow2Error('invalid-argument', 'no key slot matches this passphrase', file);
}
