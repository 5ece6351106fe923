/**
 * Decodes a guest disk's partition table (MBR with logical partitions, and GPT) from its first sectors.
 * Pure: it reads through a callback, so the host runs it on the engine and tests on plain buffers.
 * Everything decoded comes from the guest: treat names as untrusted text.
 */

export type PartitionScheme = 'none' | 'mbr' | 'gpt';

export interface Partition {
  /** 1-based number as Linux shows it (sda1…; logical MBR partitions start at 5). */
  number: number;
  /** GPT: the partition name; MBR: empty. */
  name: string;
  /** GPT: type GUID; MBR: two hex digits, e.g. "83". */
  type: string;
  /** Human name of the type, or "unknown". */
  typeName: string;
  firstLba: number;
  /** Inclusive. */
  lastLba: number;
  /** Byte range on the guest disk, [start, end). */
  start: number;
  end: number;
  /** GPT: unique partition GUID. */
  guid?: string;
  bootable?: boolean;
  /** MBR: an extended-partition container (its logical partitions are listed separately). */
  extended?: boolean;
  /** Why the entry's range cannot be right (last LBA before the first, past the disk's end); shown instead of a size. */
  problem?: string;
}

export interface PartitionTable {
  scheme: PartitionScheme;
  sectorSize: number;
  /** GPT: disk GUID. MBR: disk signature as 8 hex digits. */
  diskId?: string;
  partitions: Partition[];
  /** Non-fatal problems (bad CRC, overlapping entries, table beyond the disk, using the backup header). */
  warnings: string[];
}

export type ReadFn = (offset: number, length: number) => Promise<Uint8Array>;

const MAX_GPT_ENTRIES_BYTES = 1024 * 1024;
const MAX_LOGICAL = 128;

/** Scans the disk for GPT first (at 512- and 4096-byte sectors), then MBR. Never throws on bad tables. */
export async function scanPartitions(read: ReadFn, diskSize: number, sectorSize = 512): Promise<PartitionTable> {
  const warnings: string[] = [];
  if (diskSize < 512) return { scheme: 'none', sectorSize, partitions: [], warnings };
  const mbr = await read(0, 512);
  const mbrValid = mbr[510] === 0x55 && mbr[511] === 0xaa;
  const sizes = [sectorSize, ...[512, 4096].filter((s) => s !== sectorSize)];
  for (const ss of sizes) {
    if (diskSize < ss * 2) continue;
    const gpt = await readGpt(read, diskSize, ss, warnings);
    if (gpt) return gpt;
  }
  if (!mbrValid) return { scheme: 'none', sectorSize, partitions: [], warnings };
  return readMbr(read, mbr, diskSize, sectorSize, warnings);
}

// ---------------------------------------------------------------------------------------------------------
// GPT
// ---------------------------------------------------------------------------------------------------------

async function readGpt(read: ReadFn, diskSize: number, ss: number, warnings: string[]): Promise<PartitionTable | undefined> {
  const lastLba = Math.floor(diskSize / ss) - 1;
  const primary = await readGptHeader(read, 1, ss, lastLba);
  let header = primary.header;
  const local: string[] = [];
  if (!header) {
    // Only trust a backup header if a primary-looking signature exists or the MBR is protective; else it is no GPT.
    const backup = await readGptHeader(read, lastLba, ss, lastLba);
    if (!backup.header || !primary.signature) return undefined;
    local.push(`primary GPT header is invalid (${primary.problem}); using the backup header at LBA ${lastLba}`);
    header = backup.header;
  }
  const { entriesLba, count, entrySize } = header;
  const bytes = count * entrySize;
  if (entrySize < 128 || entrySize % 8 !== 0 || bytes > MAX_GPT_ENTRIES_BYTES) {
    warnings.push(`GPT entry array of ${count} × ${entrySize} bytes is not supported`);
    return undefined;
  }
  if (entriesLba * ss + bytes > diskSize) {
    warnings.push(`GPT entry array at LBA ${entriesLba} lies beyond the end of the disk`);
    return undefined;
  }
  const entries = await read(entriesLba * ss, bytes);
  if (crc32(entries) !== header.entriesCrc) local.push('GPT partition entry array CRC does not match');
  const partitions: Partition[] = [];
  for (let i = 0; i < count; i++) {
    const e = entries.subarray(i * entrySize, (i + 1) * entrySize);
    if (isZero(e.subarray(0, 16))) continue;
    const type = formatGuid(e, 0);
    const first = u64le(e, 32);
    const last = u64le(e, 40);
    const attrs = u32le(e, 48);
    const p: Partition = {
      number: i + 1,
      name: utf16z(e.subarray(56, 128)),
      type,
      typeName: GPT_TYPES[type] ?? 'unknown',
      firstLba: first,
      lastLba: last,
      start: first * ss,
      end: (last + 1) * ss,
      guid: formatGuid(e, 16),
      bootable: (attrs & 4) !== 0, // legacy BIOS bootable
    };
    if (last < first || (last + 1) * ss > diskSize) local.push(`GPT partition ${i + 1} has an invalid LBA range ${first}–${last}`);
    if (last < first) {
      p.problem = `invalid range: last LBA ${last} is before first LBA ${first}`;
      p.end = p.start; // never a negative size
    } else if (p.end > diskSize) p.problem = 'ends beyond the end of the disk';
    partitions.push(p);
  }
  checkOverlaps(partitions, local);
  return { scheme: 'gpt', sectorSize: ss, diskId: header.diskGuid, partitions, warnings: [...warnings, ...local] };
}

interface GptHeader {
  entriesLba: number;
  count: number;
  entrySize: number;
  entriesCrc: number;
  diskGuid: string;
}

async function readGptHeader(read: ReadFn, lba: number, ss: number, lastLba: number): Promise<{ header?: GptHeader; signature: boolean; problem?: string }> {
  const sec = await read(lba * ss, Math.min(ss, 512));
  if (ascii(sec, 0, 8) !== 'EFI PART') return { signature: false, problem: 'no signature' };
  const size = u32le(sec, 12);
  if (size < 92 || size > sec.length) return { signature: true, problem: `header size ${size}` };
  const copy = sec.slice(0, size);
  copy.fill(0, 16, 20);
  if (crc32(copy) !== u32le(sec, 16)) return { signature: true, problem: 'header CRC does not match' };
  if (u64le(sec, 24) !== lba) return { signature: true, problem: 'header does not point to itself' };
  const entriesLba = u64le(sec, 72);
  if (entriesLba < 1 || entriesLba > lastLba) return { signature: true, problem: `entry array LBA ${entriesLba}` };
  return {
    signature: true,
    header: { entriesLba, count: u32le(sec, 80), entrySize: u32le(sec, 84), entriesCrc: u32le(sec, 88), diskGuid: formatGuid(sec, 56) },
  };
}

// ---------------------------------------------------------------------------------------------------------
// MBR
// ---------------------------------------------------------------------------------------------------------

async function readMbr(read: ReadFn, mbr: Uint8Array, diskSize: number, ss: number, warnings: string[]): Promise<PartitionTable> {
  const partitions: Partition[] = [];
  let extendedStart = -1;
  for (let i = 0; i < 4; i++) {
    const p = mbrEntry(mbr, i, 0, ss, i + 1);
    if (!p) continue;
    if (p.extended && extendedStart < 0) extendedStart = p.firstLba;
    partitions.push(p);
  }
  if (extendedStart >= 0) await readLogical(read, extendedStart, diskSize, ss, partitions, warnings);
  for (const p of partitions) {
    if (p.end > diskSize) {
      warnings.push(`MBR partition ${p.number} ends beyond the end of the disk`);
      p.problem = 'ends beyond the end of the disk';
    }
  }
  checkOverlaps(
    partitions.filter((p) => !p.extended),
    warnings,
  );
  const sig = u32le(mbr, 440);
  return { scheme: 'mbr', sectorSize: ss, diskId: sig.toString(16).padStart(8, '0'), partitions, warnings };
}

/** Follows the chain of extended boot records; each holds one logical partition and a link to the next EBR. */
async function readLogical(read: ReadFn, extStart: number, diskSize: number, ss: number, out: Partition[], warnings: string[]): Promise<void> {
  const seen = new Set<number>();
  let ebrLba = extStart;
  for (let n = 5; n < 5 + MAX_LOGICAL; n++) {
    if (seen.has(ebrLba)) return void warnings.push('extended partition chain loops');
    seen.add(ebrLba);
    if ((ebrLba + 1) * ss > diskSize) return void warnings.push(`extended boot record at LBA ${ebrLba} lies beyond the end of the disk`);
    const ebr = await read(ebrLba * ss, 512);
    if (ebr[510] !== 0x55 || ebr[511] !== 0xaa) return void warnings.push(`extended boot record at LBA ${ebrLba} has no signature`);
    const p = mbrEntry(ebr, 0, ebrLba, ss, n);
    if (p && !p.extended) out.push(p);
    const link = ebr.subarray(446 + 16, 446 + 32);
    if (link[4] === 0 || u32le(link, 8) === 0) return;
    ebrLba = extStart + u32le(link, 8);
  }
  warnings.push(`more than ${MAX_LOGICAL} logical partitions; the rest are not shown`);
}

function mbrEntry(sector: Uint8Array, i: number, baseLba: number, ss: number, number: number): Partition | undefined {
  const e = sector.subarray(446 + i * 16, 446 + (i + 1) * 16);
  const type = e[4];
  const count = u32le(e, 12);
  if (type === 0 || count === 0) return undefined;
  const first = baseLba + u32le(e, 8);
  const hex = type.toString(16).padStart(2, '0');
  return {
    number,
    name: '',
    type: hex,
    typeName: MBR_TYPES[type] ?? 'unknown',
    firstLba: first,
    lastLba: first + count - 1,
    start: first * ss,
    end: (first + count) * ss,
    bootable: e[0] === 0x80,
    extended: EXTENDED_TYPES.has(type) || undefined,
  };
}

function checkOverlaps(parts: Partition[], warnings: string[]): void {
  const sorted = [...parts].sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i].start < sorted[i - 1].end) warnings.push(`partitions ${sorted[i - 1].number} and ${sorted[i].number} overlap`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Byte helpers (little-endian: partition tables are LE)
// ---------------------------------------------------------------------------------------------------------

function u32le(b: Uint8Array, at: number): number {
  return (b[at] | (b[at + 1] << 8) | (b[at + 2] << 16) | (b[at + 3] << 24)) >>> 0;
}

/** u64 as a number; values past 2^53 (never valid LBAs) come out as Infinity so range checks reject them. */
function u64le(b: Uint8Array, at: number): number {
  const hi = u32le(b, at + 4);
  return hi >= 0x200000 ? Infinity : hi * 2 ** 32 + u32le(b, at);
}

function ascii(b: Uint8Array, at: number, len: number): string {
  return String.fromCharCode(...b.subarray(at, at + len));
}

function isZero(b: Uint8Array): boolean {
  return b.every((x) => x === 0);
}

function utf16z(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i + 1 < b.length; i += 2) {
    const c = b[i] | (b[i + 1] << 8);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

/** GUIDs are stored mixed-endian: the first three fields little-endian, the rest as bytes. */
export function formatGuid(b: Uint8Array, at: number): string {
  const h = (i: number) => b[at + i].toString(16).padStart(2, '0');
  const le = (idx: number[]) => idx.map(h).join('');
  return `${le([3, 2, 1, 0])}-${le([5, 4])}-${le([7, 6])}-${le([8, 9])}-${le([10, 11, 12, 13, 14, 15])}`.toUpperCase();
}

let crcTable: Uint32Array | undefined;
export function crc32(data: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let crc = 0xffffffff;
  for (let i = 0; i < data.length; i++) crc = crcTable[(crc ^ data[i]) & 0xff] ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

const EXTENDED_TYPES = new Set([0x05, 0x0f, 0x85]);

const MBR_TYPES: Record<number, string> = {
  0x01: 'FAT12',
  0x04: 'FAT16 <32M',
  0x05: 'Extended',
  0x06: 'FAT16',
  0x07: 'HPFS/NTFS/exFAT',
  0x0b: 'W95 FAT32',
  0x0c: 'W95 FAT32 (LBA)',
  0x0e: 'W95 FAT16 (LBA)',
  0x0f: 'W95 Extended (LBA)',
  0x11: 'Hidden FAT12',
  0x27: 'Hidden NTFS WinRE',
  0x42: 'SFS',
  0x82: 'Linux swap / Solaris',
  0x83: 'Linux',
  0x85: 'Linux extended',
  0x8e: 'Linux LVM',
  0xa5: 'FreeBSD',
  0xa6: 'OpenBSD',
  0xa8: 'Darwin UFS',
  0xa9: 'NetBSD',
  0xaf: 'HFS / HFS+',
  0xbf: 'Solaris',
  0xda: 'Non-FS data',
  0xee: 'GPT protective',
  0xef: 'EFI (FAT-12/16/32)',
  0xfb: 'VMware VMFS',
  0xfd: 'Linux raid autodetect',
};

const GPT_TYPES: Record<string, string> = {
  'C12A7328-F81F-11D2-BA4B-00A0C93EC93B': 'EFI System',
  '21686148-6449-6E6F-744E-656564454649': 'BIOS boot',
  '024DEE41-33E7-11D3-9D69-0008C781F39F': 'MBR partition scheme',
  'E3C9E316-0B5C-4DB8-817D-F92DF00215AE': 'Microsoft reserved',
  'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7': 'Microsoft basic data',
  'DE94BBA4-06D1-4D40-A16A-BFD50179D6AC': 'Windows recovery environment',
  '5808C8AA-7E8F-42E0-85D2-E1E90434CFB3': 'Windows LDM metadata',
  'AF9B60A0-1431-4F62-BC68-3311714A69AD': 'Windows LDM data',
  '0FC63DAF-8483-4772-8E79-3D69D8477DE4': 'Linux filesystem',
  '0657FD6D-A4AB-43C4-84E5-0933C84B4F4F': 'Linux swap',
  'E6D6D379-F507-44C2-A23C-238F2A3DF928': 'Linux LVM',
  'A19D880F-05FC-4D3B-A006-743F0F84911E': 'Linux RAID',
  '933AC7E1-2EB4-4F13-B844-0E14E2AEF915': 'Linux home',
  '3B8F8425-20E0-4F3B-907F-1A25A76F98E8': 'Linux server data',
  'CA7D7CCB-63ED-4C53-861C-1742536059CC': 'Linux LUKS',
  '4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709': 'Linux root (x86-64)',
  '44479540-F297-41B2-9AF7-D131D5F0458A': 'Linux root (x86)',
  'B921B045-1DF0-41C3-AF44-4C6F280D3FAE': 'Linux root (ARM-64)',
  '8484680C-9521-48C6-9C11-B0720656F69E': 'Linux /usr (x86-64)',
  'BC13C2FF-59E6-4262-A352-B275FD6F7172': 'Linux extended boot',
  '4D21B016-B534-45C2-A9FB-5C16E091FD2D': 'Linux variable data',
  '7EC6F557-3BC5-4ACA-B293-16EF5DF639D1': 'Linux temporary data',
  '516E7CB4-6ECF-11D6-8FF8-00022D09712B': 'FreeBSD data',
  '83BD6B9D-7F41-11DC-BE0B-001560B84F0F': 'FreeBSD boot',
  '516E7CB5-6ECF-11D6-8FF8-00022D09712B': 'FreeBSD swap',
  '516E7CB6-6ECF-11D6-8FF8-00022D09712B': 'FreeBSD UFS',
  '516E7CBA-6ECF-11D6-8FF8-00022D09712B': 'FreeBSD ZFS',
  '48465300-0000-11AA-AA11-00306543ECAC': 'Apple HFS/HFS+',
  '7C3457EF-0000-11AA-AA11-00306543ECAC': 'Apple APFS',
  '6A898CC3-1DD2-11B2-99A6-080020736631': 'Solaris /usr & Apple ZFS',
  'AA31E02A-400F-11DB-9590-000C2911D1B8': 'VMware VMFS',
  '9D275380-40AD-11DB-BF97-000C2911D1B8': 'VMware kcore crash protection',
  'FE3A2A5D-4F32-41A7-B725-ACCC3285A309': 'ChromeOS kernel',
  '3CB8E202-3B7E-47DD-8A3C-7FF2A13CFCEC': 'ChromeOS root fs',
};
