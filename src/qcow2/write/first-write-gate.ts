/**
 * What must hold before the first write to an image, and the header change that goes with it
 * (unknown autoclear bits are cleared, as the spec asks of writers that do not understand them). Enabled persistent
 * dirty bitmaps do not stop writes: the writer keeps them consistent (write/bitmap-tracking.ts).
 */
import { printable, Qcow2Error } from '../errors';
import { AUTOCLEAR_KNOWN } from '../format/header';
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
  refuseBadBitmaps(dev);
  const ac = h.autoclearFeatures;
  if (ac.hi !== 0 || (ac.lo & ~AUTOCLEAR_KNOWN) !== 0) {
    const cleared = { hi: 0, lo: (ac.lo & AUTOCLEAR_KNOWN) >>> 0 };
    await writeFeatureWord(dev.io, HEADER_AUTOCLEAR_OFFSET, cleared);
    dev.tables.setAutoclearFeatures(cleared);
  }
}

/** QEMU's limits on a bitmap directory entry (block/qcow2-bitmap.c check_dir_entry). */
const BME_MAX_TABLE_SIZE = 0x8000000;
const BME_MAX_PHYS_SIZE = 0x20000000;

/**
 * A bitmap entry QEMU would refuse at open (it cannot open the image for writing at all) is refused here too: the
 * write path sizes its metadata map by the tables (a hostile table size cost seconds of CPU: a fuzz finding).
 */
function refuseBadBitmaps(dev: WritableImage): void {
  const cs = dev.info.clusterSize;
  for (const b of dev.bitmaps) {
    const bad =
      b.tableSize === 0 ||
      b.tableOffset === 0 ||
      b.tableOffset % cs !== 0 ||
      b.tableSize > BME_MAX_TABLE_SIZE ||
      b.tableSize * cs > BME_MAX_PHYS_SIZE ||
      b.granularityBits < 9 ||
      b.granularityBits > 31;
    if (bad) {
      throw new Qcow2Error(
        'unsupported',
        `bitmap '${printable(b.name, 100)}' does not satisfy QEMU's constraints (table of ${b.tableSize} entries at 0x${b.tableOffset.toString(16)}, granularity 2^${b.granularityBits}); refusing to write (qemu-img refuses to open it too)`,
        dev.path,
      );
    }
  }
}
