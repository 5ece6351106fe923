/**
 * owner() for NTFS: a one-time scan of every MFT record (read in large coalesced pieces, cancellable) records each
 * non-resident attribute's runs by cluster; paths are worked out only for the record a lookup lands on. Free
 * space comes from $Bitmap. Memory grows with the number of runs, not the volume size.
 */
import { checkAbort, IntervalTable } from '../reader-util';
import type { Owner } from '../types';
import { AT, applyFixups, parseRecord } from './record';
import type { Mft } from './mft';

/** What owner lookups need of the file system (an interface, so this file does not import the reader back). */
export interface NtfsWalk {
  readonly mft: Mft;
  pathOf(record: number): Promise<string>;
}

export interface NtfsOwnerIndex {
  /** LCN ranges -> the record and attribute that own them; `logical` is in clusters. */
  table: IntervalTable<{ record: number; type: number; name: string }>;
  /** The $Bitmap attribute's bytes are read on demand through this record. */
  skipped: number;
}

const SYSTEM_FILES = ['$MFT', '$MFTMirr', '$LogFile', '$Volume', '$AttrDef', 'root directory', '$Bitmap', '$Boot', '$BadClus', '$Secure', '$UpCase', '$Extend'];
/** MFT bytes read per step while indexing. */
const CHUNK = 1024 * 1024;

export async function buildNtfsOwnerIndex(mft: Mft, signal?: AbortSignal): Promise<NtfsOwnerIndex> {
  const table: NtfsOwnerIndex['table'] = new IntervalTable();
  const index: NtfsOwnerIndex = { table, skipped: 0 };
  const size = mft.boot.recordSize;
  const perChunk = Math.max(1, Math.floor(CHUNK / size));
  for (let first = 0; first < mft.recordCount; first += perChunk) {
    checkAbort(signal);
    const count = Math.min(perChunk, mft.recordCount - first);
    const buf = new Uint8Array(count * size);
    await mft.reader.readRuns(mft.mftRuns.runs, first * size, buf, '$MFT');
    for (let i = 0; i < count; i++) {
      const rec = buf.subarray(i * size, (i + 1) * size);
      if (rec[0] !== 0x46 || !(rec[22] & 1)) continue; // not "FILE" or not in use
      try {
        applyFixups(rec, 'FILE', `MFT record ${first + i}`);
        const parsed = parseRecord(rec, first + i);
        const owner = parsed.base || parsed.number;
        for (const a of parsed.attrs) {
          if (!a.nonResident) continue;
          for (const run of a.runs) if (run.lcn >= 0) table.add(run.lcn, run.length, { record: owner, type: a.type, name: a.name }, run.vcn);
        }
      } catch {
        index.skipped++;
      }
    }
  }
  return index;
}

export async function ntfsOwner(fs: NtfsWalk, index: NtfsOwnerIndex, deviceOffset: number): Promise<Owner> {
  const boot = fs.mft.boot;
  if (!(deviceOffset >= 0) || deviceOffset >= boot.totalBytes) return { kind: 'metadata', what: 'outside the file system' };
  if (deviceOffset < boot.sectorSize) return { kind: 'metadata', what: 'boot sector' };
  if (deviceOffset >= boot.totalBytes - boot.sectorSize) return { kind: 'metadata', what: 'backup boot sector' };
  const cs = boot.clusterSize;
  const lcn = Math.floor(deviceOffset / cs);
  const hit = index.table.find(lcn);
  if (!hit) return (await clusterInUse(fs, lcn)) ? { kind: 'metadata', what: 'allocated cluster in no file' } : { kind: 'free' };
  const { record, type, name } = hit.owner;
  const logical = hit.logical * cs + (deviceOffset % cs);
  if (record === 0 && type === AT.DATA && name === '') return { kind: 'metadata', what: `$MFT (record ${Math.floor(logical / boot.recordSize)})` };
  if (record < 16) return { kind: 'metadata', what: SYSTEM_FILES[record] ?? `reserved MFT record ${record}` };
  const path = await fs.pathOf(record).catch(() => `<MFT record ${record}>`);
  if (path.startsWith('/$Extend')) return { kind: 'metadata', what: path.slice(1) };
  if (type === AT.DATA) return { kind: 'file', path: name ? `${path}:${name}` : path, logical };
  if (type === AT.INDEX_ALLOCATION) return { kind: 'dir', path, logical };
  return { kind: 'metadata', what: `${path} (attribute 0x${type.toString(16)})` };
}

/** The cluster's bit in $Bitmap (record 6). */
async function clusterInUse(fs: NtfsWalk, lcn: number): Promise<boolean> {
  const bitmap = await fs.mft.file(6);
  const data = bitmap.attrs.find((a) => a.type === AT.DATA && a.name === '');
  if (!data) return true;
  const byte = await fs.mft.reader.read(data, Math.floor(lcn / 8), 1, '$Bitmap', '6:');
  return byte.length === 0 || (byte[0] & (1 << (lcn & 7))) !== 0;
}
