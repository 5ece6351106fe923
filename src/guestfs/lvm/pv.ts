/**
 * An LVM2 physical volume: the label ("LABELONE" in one of the first four sectors), the PV header with its
 * data and metadata areas, and the newest metadata text from the first metadata area's circular buffer.
 */
import { u32, u64 } from '../bytes';
import { GuestFsError, type ReadOnlyDevice } from '../types';

export interface PhysicalVolume {
  /** The PV's UUID as LVM writes it in the metadata (32 id characters, dashed 6-4-4-4-4-4-6). */
  uuid: string;
  device: ReadOnlyDevice;
  /** The metadata text, if the PV has a metadata area. */
  metadata?: string;
}

const MDA_MAGIC = ' LVM2 x[5A%r0N*>';
const MAX_METADATA = 16 * 1024 * 1024;

async function read(dev: ReadOnlyDevice, offset: number, length: number, what: string): Promise<Uint8Array> {
  if (!(offset >= 0 && length >= 0 && offset + length <= dev.size))
    throw new GuestFsError('bad-fs', `LVM ${what} at byte ${offset} (+${length}) is outside the device`);
  const buf = new Uint8Array(length);
  await dev.readAt(buf, offset);
  return buf;
}

function dashedUuid(id: string): string {
  return [id.slice(0, 6), id.slice(6, 10), id.slice(10, 14), id.slice(14, 18), id.slice(18, 22), id.slice(22, 26), id.slice(26)].join('-');
}

export async function readPhysicalVolume(dev: ReadOnlyDevice): Promise<PhysicalVolume> {
  const head = await read(dev, 0, Math.min(dev.size, 2048), 'label');
  let label = -1;
  for (let s = 0; s < 4 && s * 512 + 32 <= head.length; s++) {
    if (String.fromCharCode(...head.subarray(s * 512, s * 512 + 8)) === 'LABELONE') label = s * 512;
  }
  if (label < 0) throw new GuestFsError('bad-fs', 'no LVM2 label in the first four sectors');
  const pvAt = label + u32(head, label + 20);
  if (pvAt + 40 + 32 > head.length) throw new GuestFsError('bad-fs', 'LVM PV header lies outside the label sector');
  const uuid = dashedUuid(String.fromCharCode(...head.subarray(pvAt, pvAt + 32)));
  // Data-area list, then metadata-area list, each ended by a zero entry.
  let at = pvAt + 40;
  const next = (): { offset: number; size: number } | undefined => {
    if (at + 16 > head.length) throw new GuestFsError('bad-fs', 'LVM PV header area lists run past the label');
    const e = { offset: u64(head, at), size: u64(head, at + 8) };
    at += 16;
    return e.offset === 0 && e.size === 0 ? undefined : e;
  };
  for (let i = 0; next(); i++) if (i > 8) throw new GuestFsError('bad-fs', 'LVM PV header lists too many data areas');
  const mda = next();
  if (!mda) return { uuid, device: dev };
  const header = await read(dev, mda.offset, 512, 'metadata area header');
  if (String.fromCharCode(...header.subarray(4, 20)) !== MDA_MAGIC) throw new GuestFsError('bad-fs', 'LVM metadata area has a bad magic');
  const mdaSize = u64(header, 32);
  const locOffset = u64(header, 40);
  const locSize = u64(header, 48);
  if (locSize === 0) return { uuid, device: dev };
  if (locSize > MAX_METADATA || locSize > mdaSize || locOffset >= mdaSize || locOffset < 512)
    throw new GuestFsError('bad-fs', `LVM metadata of ${locSize} bytes at ${locOffset} does not fit its ${mdaSize}-byte area`);
  // The buffer is circular: text that runs past the end continues just after the 512-byte header.
  const first = Math.min(locSize, mdaSize - locOffset);
  const text = new Uint8Array(locSize);
  text.set(await read(dev, mda.offset + locOffset, first, 'metadata'));
  if (first < locSize) text.set(await read(dev, mda.offset + 512, locSize - first, 'metadata'), first);
  let end = text.indexOf(0);
  if (end < 0) end = text.length;
  return { uuid, device: dev, metadata: new TextDecoder().decode(text.subarray(0, end)) };
}
