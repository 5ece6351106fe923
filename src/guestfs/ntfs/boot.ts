/** The NTFS boot sector: geometry of clusters, MFT records and index records, validated before use. */
import { badFs, le16, le32, le64 } from '../reader-util';

export interface NtfsBoot {
  sectorSize: number;
  clusterSize: number;
  totalBytes: number;
  mftOffset: number;
  mftMirrOffset: number;
  recordSize: number;
  indexRecordSize: number;
  serial: string;
}

const POW2 = (n: number): boolean => n > 0 && (n & (n - 1)) === 0;

/** A size field in clusters, or as 2^-n bytes when the signed byte is negative. */
function clustersOrShift(v: number, clusterSize: number): number {
  return v >= 0x80 ? 2 ** (256 - v) : v * clusterSize;
}

export function parseNtfsBoot(b: Uint8Array, deviceSize: number): NtfsBoot {
  if (String.fromCharCode(...b.subarray(3, 11)) !== 'NTFS    ') throw badFs('not an NTFS file system (no NTFS signature)');
  const sectorSize = le16(b, 11);
  if (!POW2(sectorSize) || sectorSize < 256 || sectorSize > 4096) throw badFs(`NTFS: ${sectorSize} bytes per sector`);
  const spcRaw = b[13];
  const spc = spcRaw > 0x80 ? 2 ** (256 - spcRaw) : spcRaw;
  const clusterSize = spc * sectorSize;
  if (!POW2(clusterSize) || clusterSize > 2 * 1024 * 1024) throw badFs(`NTFS: cluster size ${clusterSize}`);
  const totalSectors = le64(b, 40);
  const mftLcn = le64(b, 48);
  const mirrLcn = le64(b, 56);
  const recordSize = clustersOrShift(b[64], clusterSize);
  const indexRecordSize = clustersOrShift(b[68], clusterSize);
  if (!POW2(recordSize) || recordSize < 512 || recordSize > 65536) throw badFs(`NTFS: MFT record size ${recordSize}`);
  if (!POW2(indexRecordSize) || indexRecordSize < 512 || indexRecordSize > 65536) throw badFs(`NTFS: index record size ${indexRecordSize}`);
  const totalBytes = totalSectors * sectorSize;
  if (!Number.isSafeInteger(totalBytes)) throw badFs('NTFS: sector count out of range');
  const mftOffset = mftLcn * clusterSize;
  if (!(mftOffset + recordSize <= Math.min(totalBytes + sectorSize, deviceSize))) throw badFs(`NTFS: the MFT (cluster ${mftLcn}) lies outside the volume`);
  const serialLo = le32(b, 72);
  const serialHi = le32(b, 76);
  return {
    sectorSize,
    clusterSize,
    totalBytes: Math.min(totalBytes + sectorSize, deviceSize), // the backup boot sector follows the last counted sector
    mftOffset,
    mftMirrOffset: mirrLcn * clusterSize,
    recordSize,
    indexRecordSize,
    serial: (serialHi.toString(16).padStart(8, '0') + serialLo.toString(16).padStart(8, '0')).toUpperCase(),
  };
}
