// A GUID partition table (UEFI 2.10, chapter 5) for a disk of `sectors` 512-byte sectors: protective MBR, primary
// header and entries at LBA 1-33, backup entries and header at the end. Written by hand (about 60 lines) so that
// `npm start` needs no sfdisk; sfdisk and qemu-img read it back in test/cli/demo.test.ts.
import { crc32 } from 'node:zlib';

const SECTOR = 512;
const ENTRIES = 128;
const ENTRY_SIZE = 128;
const ENTRY_SECTORS = (ENTRIES * ENTRY_SIZE) / SECTOR; // 32

export const TYPE_EFI_SYSTEM = 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B';
export const TYPE_LINUX_FS = '0FC63DAF-8483-4772-8E79-3D69D8477DE4';

/** A GUID in its on-disk mixed-endian form. */
function guidBytes(text) {
  const h = text.replace(/-/g, '');
  const b = Buffer.from(h, 'hex');
  return Buffer.concat([
    Buffer.from(b.subarray(0, 4)).reverse(),
    Buffer.from(b.subarray(4, 6)).reverse(),
    Buffer.from(b.subarray(6, 8)).reverse(),
    b.subarray(8),
  ]);
}

function header(sectors, current, backup, entriesLba, entriesCrc, diskGuid) {
  const h = Buffer.alloc(SECTOR);
  h.write('EFI PART', 0, 'latin1');
  h.writeUInt32LE(0x00010000, 8); // revision 1.0
  h.writeUInt32LE(92, 12); // header size
  h.writeBigUInt64LE(BigInt(current), 24);
  h.writeBigUInt64LE(BigInt(backup), 32);
  h.writeBigUInt64LE(BigInt(2 + ENTRY_SECTORS), 40); // first usable LBA
  h.writeBigUInt64LE(BigInt(sectors - 2 - ENTRY_SECTORS), 48); // last usable LBA
  guidBytes(diskGuid).copy(h, 56);
  h.writeBigUInt64LE(BigInt(entriesLba), 72);
  h.writeUInt32LE(ENTRIES, 80);
  h.writeUInt32LE(ENTRY_SIZE, 84);
  h.writeUInt32LE(entriesCrc, 88);
  h.writeUInt32LE(crc32(h.subarray(0, 92)), 16);
  return h;
}

/**
 * The table's pieces as [byte offset, bytes] for a disk of `sectors` sectors. Partitions: { type, guid, name,
 * first, last } in sectors (inclusive), as sfdisk --dump shows them.
 */
export function gptPieces(sectors, partitions, diskGuid) {
  const mbr = Buffer.alloc(SECTOR);
  // One protective partition of type 0xEE over the whole disk (capped at 2^32-1 sectors).
  mbr.set([0x00, 0x00, 0x02, 0x00, 0xee, 0xff, 0xff, 0xff], 446);
  mbr.writeUInt32LE(1, 446 + 8);
  mbr.writeUInt32LE(Math.min(sectors - 1, 0xffffffff), 446 + 12);
  mbr.writeUInt16LE(0xaa55, 510);
  const entries = Buffer.alloc(ENTRIES * ENTRY_SIZE);
  partitions.forEach((p, i) => {
    const e = entries.subarray(i * ENTRY_SIZE, (i + 1) * ENTRY_SIZE);
    guidBytes(p.type).copy(e, 0);
    guidBytes(p.guid).copy(e, 16);
    e.writeBigUInt64LE(BigInt(p.first), 32);
    e.writeBigUInt64LE(BigInt(p.last), 40);
    e.write(p.name.slice(0, 36), 56, 'utf16le');
  });
  const ecrc = crc32(entries);
  const last = sectors - 1;
  const backupEntries = last - ENTRY_SECTORS;
  return [
    [0, mbr],
    [SECTOR, header(sectors, 1, last, 2, ecrc, diskGuid)],
    [2 * SECTOR, entries],
    [backupEntries * SECTOR, entries],
    [last * SECTOR, header(sectors, last, 1, backupEntries, ecrc, diskGuid)],
  ];
}
