/**
 * What must hold before the first write to an image, and the header change that goes with it
 * (unknown autoclear bits are cleared, as the spec asks of writers that do not understand them).
 */
import { BME_FLAG_AUTO, BME_FLAG_IN_USE } from '../format/bitmaps';
import { Qcow2Error } from '../errors';
import { AUTOCLEAR_BITMAPS, AUTOCLEAR_KNOWN, isSet } from '../format/header';
import { HEADER_AUTOCLEAR_OFFSET, writeFeatureWord } from '../format/header-write';
import type { WritableImage } from './writable-image';

export async function prepareFirstWrite(dev: WritableImage): Promise<void> {
  const file = dev.path;
  const h = dev.header;
  const info = dev.info;
  if (info.readOnly || dev.io.readOnly) throw new Qcow2Error('read-only', 'image is open read-only', file);
  if (h.cryptMethod !== 0 && !dev.crypto) throw new Qcow2Error('unsupported', 'image is encrypted; writing is not supported', file);
  if (dev.crypto && !dev.crypto.writable)
    throw new Qcow2Error('unsupported', 'legacy AES-encrypted images are read-only (as QEMU, which writes them only on request)', file);
  if (info.corrupt) {
    throw new Qcow2Error('unsupported', 'image is marked corrupt; refusing to write (repair it with `qemu-img check -r all`)', file);
  }
  if (info.dirty) {
    throw new Qcow2Error(
      'unsupported',
      'image has the dirty flag set (lazy refcounts, not closed cleanly), so its refcounts cannot be trusted; repair it with `qemu-img check -r all` before writing',
      file,
    );
  }
  if (dev.openDamage.length) {
    throw new Qcow2Error('unsupported', `image is damaged (${dev.openDamage.join('; ')}); refusing to write (repair it with \`qemu-img check -r all\`)`, file);
  }
  if (info.hasDataFile && !dev.dataIo) throw new Qcow2Error('unsupported', 'the external data file is not open; cannot write', file);
  if (info.hasDataFile && dev.dataIo?.readOnly) throw new Qcow2Error('read-only', 'the external data file is open read-only', file);
  if (isSet(h.autoclearFeatures, AUTOCLEAR_BITMAPS)) {
    const live = dev.bitmaps.filter((b) => b.flags & (BME_FLAG_AUTO | BME_FLAG_IN_USE));
    if (live.length > 0) {
      const names = live.map((b) => `'${b.name}'`).join(', ');
      throw new Qcow2Error(
        'unsupported',
        `image has enabled persistent dirty bitmaps (${names}) that writes would leave stale; disable or remove them first (qemu-img bitmap --disable or --remove)`,
        file,
      );
    }
  }
  const ac = h.autoclearFeatures;
  if (ac.hi !== 0 || (ac.lo & ~AUTOCLEAR_KNOWN) !== 0) {
    const cleared = { hi: 0, lo: (ac.lo & AUTOCLEAR_KNOWN) >>> 0 };
    await writeFeatureWord(dev.io, HEADER_AUTOCLEAR_OFFSET, cleared);
    dev.tables.setAutoclearFeatures(cleared);
  }
}
