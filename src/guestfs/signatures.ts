/**
 * What a device holds, by its on-disk signature: the file systems we read (ext, FAT, NTFS) and, by signature only,
 * exFAT, XFS, btrfs, ISO9660, swap, LUKS, Linux md RAID, BitLocker and LVM2 physical volumes (the same magic
 * numbers blkid looks for). Reads a few small blocks; never throws for unrecognised content.
 */
import { cString, u16, u32, uuidString } from './bytes';
import type { ReadOnlyDevice } from './types';

export type ContentType =
  | 'ext2'
  | 'ext3'
  | 'ext4'
  | 'fat12'
  | 'fat16'
  | 'fat32'
  | 'ntfs'
  | 'exfat'
  | 'xfs'
  | 'btrfs'
  | 'iso9660'
  | 'swap'
  | 'luks'
  | 'linux_raid_member'
  | 'bitlocker'
  | 'lvm2_pv'
  | 'unknown';

export interface Identified {
  type: ContentType;
  label?: string;
  uuid?: string;
}

const ascii = (b: Uint8Array, at: number, len: number): string => String.fromCharCode(...b.subarray(at, at + len));

async function head(dev: ReadOnlyDevice, offset: number, length: number): Promise<Uint8Array | undefined> {
  if (offset + length > dev.size) return undefined;
  const buf = new Uint8Array(length);
  await dev.readAt(buf, offset);
  return buf;
}

/** FAT by its BPB (as the FAT specification sizes it: the cluster count decides FAT12/16/32). */
function fatType(b: Uint8Array): Identified | undefined {
  if (u16(b, 510) !== 0xaa55) return undefined;
  const bytesPerSector = u16(b, 11);
  const perCluster = b[13];
  const reserved = u16(b, 14);
  const fats = b[16];
  const rootEntries = u16(b, 17);
  const total = u16(b, 19) || u32(b, 32);
  const fatSize = u16(b, 22) || u32(b, 36);
  const pow2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;
  if (![512, 1024, 2048, 4096].includes(bytesPerSector) || !pow2(perCluster) || reserved === 0 || fats < 1 || fats > 4 || !fatSize || !total) return undefined;
  const rootSectors = Math.ceil((rootEntries * 32) / bytesPerSector);
  const clusters = Math.floor((total - reserved - fats * fatSize - rootSectors) / perCluster);
  if (clusters <= 0) return undefined;
  const type = clusters < 4085 ? 'fat12' : clusters < 65525 ? 'fat16' : 'fat32';
  const ebr = type === 'fat32' ? 64 : 36;
  const hasEbr = b[ebr + 2] === 0x29;
  const serial = u32(b, ebr + 3)
    .toString(16)
    .padStart(8, '0')
    .toUpperCase();
  return { type, label: hasEbr ? cString(b, ebr + 7, 11).trimEnd() : undefined, uuid: hasEbr ? `${serial.slice(0, 4)}-${serial.slice(4)}` : undefined };
}

function hex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

export async function identify(dev: ReadOnlyDevice): Promise<Identified> {
  const b = await head(dev, 0, Math.min(dev.size, 4096));
  if (!b || b.length < 512) return { type: 'unknown' };
  const oem = ascii(b, 3, 8);
  if (oem === 'NTFS    ') return { type: 'ntfs', uuid: hex(b.subarray(72, 80).reverse()).toUpperCase() };
  if (oem === 'EXFAT   ') return { type: 'exfat' };
  if (oem === '-FVE-FS-') return { type: 'bitlocker' };
  if (ascii(b, 0, 4) === 'XFSB') return { type: 'xfs', label: cString(b, 108, 12), uuid: uuidString(b, 32) };
  if (ascii(b, 0, 6) === 'LUKS\xba\xbe') return { type: 'luks', uuid: cString(b, 168, 40) };
  for (let s = 0; s < 4; s++) {
    if (b.length >= s * 512 + 32 && ascii(b, s * 512, 8) === 'LABELONE' && ascii(b, s * 512 + 24, 8) === 'LVM2 001') return { type: 'lvm2_pv' };
  }
  const sb = await head(dev, 1024, 1024);
  if (sb && u16(sb, 0x38) === 0xef53) {
    const incompat = u32(sb, 0x60);
    const ro = u32(sb, 0x64);
    const ext4 = (incompat & (0x40 | 0x80 | 0x200 | 0x8000)) !== 0 || (ro & (0x8 | 0x400 | 0x40)) !== 0;
    return { type: ext4 ? 'ext4' : u32(sb, 0x5c) & 4 ? 'ext3' : 'ext2', label: cString(sb, 0x78, 16), uuid: uuidString(sb, 0x68) };
  }
  const fat = fatType(b);
  if (fat) return fat;
  if (b.length >= 4096 && /^SWAP-?SPACE2?$|^SWAPSPACE2$/.test(ascii(b, 4086, 10)))
    return { type: 'swap', label: cString(b, 1024 + 28, 16), uuid: uuidString(b, 1024 + 12) };
  if (u32(b, 0) === 0xa92b4efc) return { type: 'linux_raid_member' }; // md v1.1
  const md12 = await head(dev, 4096, 512);
  if (md12 && u32(md12, 0) === 0xa92b4efc) return { type: 'linux_raid_member', uuid: uuidString(md12, 16) };
  const iso = await head(dev, 0x8000, 8);
  if (iso && ascii(iso, 1, 5) === 'CD001') return { type: 'iso9660' };
  const btrfs = await head(dev, 0x10000, 0x200);
  if (btrfs && ascii(btrfs, 0x40, 8) === '_BHRfS_M') return { type: 'btrfs', label: cString(btrfs, 0x12b, 64), uuid: uuidString(btrfs, 0x20) };
  // md 0.90 and 1.0 keep their superblock near the end.
  if (dev.size >= 128 * 1024) {
    const v090 = await head(dev, Math.floor(dev.size / 65536) * 65536 - 65536, 4);
    const s10 = Math.floor(dev.size / 512) - 16;
    const v10 = await head(dev, (s10 - (s10 % 8)) * 512, 4);
    if ((v090 && u32(v090, 0) === 0xa92b4efc) || (v10 && u32(v10, 0) === 0xa92b4efc)) return { type: 'linux_raid_member' };
  }
  return { type: 'unknown' };
}
