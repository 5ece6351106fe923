/**
 * The FAT boot sector (BIOS parameter block): geometry, FAT type by cluster count (as Microsoft's spec decides it),
 * label, serial, dirty flag. Every field the layout depends on is validated before use, and the cluster count is
 * clamped to what the FAT and the device can hold, so a count in the billions cannot drive a loop or an allocation.
 */
import { badFs, le16, le32 } from '../reader-util';

export type FatBits = 12 | 16 | 32;

export interface Bpb {
  bits: FatBits;
  bytesPerSector: number;
  clusterSize: number;
  reservedBytes: number;
  fatCount: number;
  fatBytes: number;
  /** Device offset of the FAT copy the reader uses (the active one when FAT32 mirroring is off). */
  activeFatOffset: number;
  /** FAT12/16 fixed root directory; length 0 on FAT32. */
  rootDirOffset: number;
  rootDirBytes: number;
  /** FAT32: the root directory's first cluster. */
  rootCluster: number;
  dataOffset: number;
  /** Usable clusters, numbered 2 .. clusterCount + 1. */
  clusterCount: number;
  totalBytes: number;
  label: string;
  serial: string;
  dirtyBootFlag: boolean;
  fsInfoSector: number;
  backupBootSector: number;
  warnings: string[];
}

const POW2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

export function parseBpb(b: Uint8Array, deviceSize: number): Bpb {
  if (b.length < 512) throw badFs('FAT boot sector is shorter than 512 bytes');
  const bytesPerSector = le16(b, 11);
  const spc = b[13];
  const reserved = le16(b, 14);
  const fatCount = b[16];
  const rootEntries = le16(b, 17);
  const total16 = le16(b, 19);
  const fat16Size = le16(b, 22);
  const total32 = le32(b, 32);
  if (![512, 1024, 2048, 4096].includes(bytesPerSector)) throw badFs(`not a FAT file system: ${bytesPerSector} bytes per sector`);
  if (!POW2(spc) || spc > 128) throw badFs(`not a FAT file system: ${spc} sectors per cluster`);
  if (reserved < 1) throw badFs('not a FAT file system: no reserved sectors');
  if (fatCount < 1 || fatCount > 4) throw badFs(`not a FAT file system: ${fatCount} FAT copies`);
  const isFat32Layout = fat16Size === 0;
  const fatSectors = isFat32Layout ? le32(b, 36) : fat16Size;
  if (fatSectors === 0) throw badFs('not a FAT file system: the FAT has no sectors');
  const totalSectors = total16 !== 0 ? total16 : total32;
  if (totalSectors === 0) throw badFs('not a FAT file system: 0 sectors');
  if (isFat32Layout && rootEntries !== 0) throw badFs('FAT32 boot sector with a fixed root directory');
  const rootDirBytes = rootEntries * 32;
  const rootDirSectors = Math.ceil(rootDirBytes / bytesPerSector);
  const dataSector = reserved + fatCount * fatSectors + rootDirSectors;
  if (dataSector >= totalSectors) throw badFs(`FAT layout does not fit: data starts at sector ${dataSector} of ${totalSectors}`);
  const clusterSize = spc * bytesPerSector;
  const warnings: string[] = [];
  let clusterCount = Math.floor((totalSectors - dataSector) / spc);
  const bits: FatBits = isFat32Layout ? 32 : clusterCount < 4085 ? 12 : 16;
  if (!isFat32Layout && clusterCount >= 65525) throw badFs(`${clusterCount} clusters need FAT32, but the boot sector has a FAT16 layout`);
  // Clamp to what the FAT can describe and to what lies on the device (Linux clamps the same way).
  const fatEntries = Math.floor((fatSectors * bytesPerSector * 8) / bits) - 2;
  const maxEntries = bits === 32 ? 0x0ffffff5 : bits === 16 ? 0xfff5 : 0xff5;
  if (clusterCount > fatEntries) {
    warnings.push(`the boot sector claims ${clusterCount} clusters but the FAT holds ${fatEntries}`);
    clusterCount = fatEntries;
  }
  if (clusterCount > maxEntries) clusterCount = maxEntries;
  const dataOffset = dataSector * bytesPerSector;
  const onDevice = Math.floor((deviceSize - dataOffset) / clusterSize);
  if (onDevice < clusterCount) {
    warnings.push(`the file system claims ${totalSectors * bytesPerSector} bytes but the device has ${deviceSize}`);
    clusterCount = Math.max(0, onDevice);
  }
  if (clusterCount < 1) throw badFs('FAT file system with no data clusters on the device');
  const fatBytes = fatSectors * bytesPerSector;
  let activeFat = 0;
  const extBase = isFat32Layout ? 64 : 36;
  if (isFat32Layout) {
    const extFlags = le16(b, 40);
    if (extFlags & 0x80) activeFat = Math.min(extFlags & 0x0f, fatCount - 1); // mirroring off: one FAT is active
  }
  const sig = b[extBase + 2];
  const hasExt = sig === 0x29 || sig === 0x28;
  const serialNum = hasExt ? le32(b, extBase + 3) : 0;
  const label = sig === 0x29 ? decodeLabel(b.subarray(extBase + 7, extBase + 18)) : '';
  return {
    bits,
    bytesPerSector,
    clusterSize,
    reservedBytes: reserved * bytesPerSector,
    fatCount,
    fatBytes,
    activeFatOffset: reserved * bytesPerSector + activeFat * fatBytes,
    rootDirOffset: isFat32Layout ? 0 : (reserved + fatCount * fatSectors) * bytesPerSector,
    rootDirBytes: isFat32Layout ? 0 : rootDirBytes,
    rootCluster: isFat32Layout ? le32(b, 44) & 0x0fffffff : 0,
    dataOffset,
    clusterCount,
    totalBytes: Math.min(totalSectors * bytesPerSector, deviceSize),
    label: label === 'NO NAME' ? '' : label,
    serial: hasExt ? `${hex4(serialNum >>> 16)}-${hex4(serialNum & 0xffff)}` : '',
    dirtyBootFlag: hasExt && (b[extBase + 1] & 1) === 1,
    fsInfoSector: isFat32Layout ? le16(b, 48) : 0,
    backupBootSector: isFat32Layout ? le16(b, 50) : 0,
    warnings,
  };
}

function hex4(n: number): string {
  return n.toString(16).toUpperCase().padStart(4, '0');
}

/** A label or 8.3 name field: OEM bytes, space-padded. Bytes past ASCII are read as code page 437. */
export function decodeLabel(bytes: Uint8Array): string {
  return decodeOem(bytes).replace(/ +$/, '');
}

const CP437_HIGH = 'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■\u00a0';

export function decodeOem(bytes: Uint8Array): string {
  let s = '';
  for (const c of bytes) s += c < 0x80 ? String.fromCharCode(c) : CP437_HIGH[c - 0x80];
  return s;
}
