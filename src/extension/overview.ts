/** Builds the Overview view's data from an open image: header fields with meanings, features, extensions. */
import type { Qcow2Dev } from '../qcow2';
import { EXT_BACKING_FORMAT, EXT_BITMAPS, EXT_CRYPTO, EXT_DATA_FILE, EXT_FEATURE_TABLE, type FeatureBits, type Qcow2Header } from '../qcow2';
import type { FeatureBitInfo, HeaderExtensionInfo, HeaderField, ImageWarning, OverviewData } from '../shared/protocol';
import { formatBytes, hex } from '../shared/format';
import { trackedBitmaps } from './hex-safety';

type Group = FeatureBitInfo['group'];
const GROUP_TYPE: Record<Group, number> = { incompatible: 0, compatible: 1, autoclear: 2 };

/** Names QEMU gives the bits it knows, used when the image has no feature name table. */
const KNOWN_FEATURES: Record<Group, Record<number, string>> = {
  incompatible: { 0: 'dirty bit', 1: 'corrupt bit', 2: 'external data file', 3: 'compression type', 4: 'extended L2 entries' },
  compatible: { 0: 'lazy refcounts' },
  autoclear: { 0: 'bitmaps', 1: 'raw external data' },
};

const EXTENSION_NAMES: Record<number, string> = {
  [EXT_BACKING_FORMAT]: 'backing file format name',
  [EXT_FEATURE_TABLE]: 'feature name table',
  [EXT_BITMAPS]: 'bitmaps',
  [EXT_CRYPTO]: 'full disk encryption header pointer',
  [EXT_DATA_FILE]: 'external data file name',
};

/** Every set bit of a 64-bit mask split into words. */
export function setBits(bits: FeatureBits): number[] {
  const out: number[] = [];
  for (let b = 0; b < 32; b++) if ((bits.lo >>> b) & 1) out.push(b);
  for (let b = 0; b < 32; b++) if ((bits.hi >>> b) & 1) out.push(b + 32);
  return out;
}

function maskHex(bits: FeatureBits): string {
  return hex(bits.hi * 2 ** 32 + (bits.lo >>> 0), 16);
}

export function describeFeatures(h: Qcow2Header): FeatureBitInfo[] {
  const out: FeatureBitInfo[] = [];
  const groups: [Group, FeatureBits][] = [
    ['incompatible', h.incompatibleFeatures],
    ['compatible', h.compatibleFeatures],
    ['autoclear', h.autoclearFeatures],
  ];
  for (const [group, bits] of groups) {
    for (const bit of setBits(bits)) {
      const fromTable = h.extensions.featureNames.find((f) => f.type === GROUP_TYPE[group] && f.bit === bit);
      const known = KNOWN_FEATURES[group][bit];
      out.push({ group, bit, name: fromTable?.name ?? known ?? 'unknown', fromTable: fromTable !== undefined, known: known !== undefined });
    }
  }
  return out;
}

export function describeExtensions(h: Qcow2Header): HeaderExtensionInfo[] {
  const e = h.extensions;
  const out: HeaderExtensionInfo[] = [];
  if (e.backingFormat !== undefined)
    out.push({ type: hex(EXT_BACKING_FORMAT, 8), name: EXTENSION_NAMES[EXT_BACKING_FORMAT], length: e.backingFormat.length, summary: e.backingFormat });
  if (e.featureNames.length > 0) {
    out.push({
      type: hex(EXT_FEATURE_TABLE, 8),
      name: EXTENSION_NAMES[EXT_FEATURE_TABLE],
      length: e.featureNames.length * 48,
      summary: `${e.featureNames.length} names`,
    });
  }
  if (e.bitmaps) {
    out.push({
      type: hex(EXT_BITMAPS, 8),
      name: EXTENSION_NAMES[EXT_BITMAPS],
      length: 24,
      summary: `${e.bitmaps.nbBitmaps} bitmap(s), directory at ${hex(e.bitmaps.directoryOffset)} (${e.bitmaps.directorySize} bytes)`,
    });
  }
  if (e.crypto)
    out.push({ type: hex(EXT_CRYPTO, 8), name: EXTENSION_NAMES[EXT_CRYPTO], length: 16, summary: `at ${hex(e.crypto.offset)}, ${e.crypto.length} bytes` });
  if (e.dataFile !== undefined) out.push({ type: hex(EXT_DATA_FILE, 8), name: EXTENSION_NAMES[EXT_DATA_FILE], length: e.dataFile.length, summary: e.dataFile });
  for (const u of e.unknown) out.push({ type: hex(u.type, 8), name: 'unknown', length: u.data.length, summary: `${u.data.length} bytes` });
  return out;
}

export function headerFields(dev: Qcow2Dev): HeaderField[] {
  const h = dev.header;
  const i = dev.info;
  const f = (name: string, raw: string | number, meaning: string): HeaderField => ({ name, raw: String(raw), meaning });
  const fields = [
    f('magic', '0x514649fb', 'QFI\\xfb: a qcow2 image'),
    f('version', h.version, h.version === 3 ? 'qcow2 v3 (compat=1.1)' : 'qcow2 v2 (compat=0.10)'),
    f('backing_file_offset', hex(h.backingFileOffset), h.backingFileOffset ? 'where the backing file name is stored' : 'no backing file'),
    f('backing_file_size', h.backingFileSize, h.backingFile !== undefined ? `backing file: ${h.backingFile}` : 'no backing file'),
    f('cluster_bits', h.clusterBits, `clusters of ${formatBytes(i.clusterSize)}`),
    f('size', h.size, `virtual disk size ${formatBytes(h.size)}`),
    f('crypt_method', h.cryptMethod, h.cryptMethod === 0 ? 'not encrypted' : h.cryptMethod === 1 ? 'AES (legacy)' : 'LUKS'),
    f('l1_size', h.l1Size, `${h.l1Size} L1 entries, each covering ${formatBytes(i.l1EntrySpan)}`),
    f('l1_table_offset', hex(h.l1TableOffset), 'host offset of the active L1 table'),
    f('refcount_table_offset', hex(h.refcountTableOffset), 'host offset of the refcount table'),
    f('refcount_table_clusters', h.refcountTableClusters, `${formatBytes(h.refcountTableClusters * i.clusterSize)} of refcount table`),
    f('nb_snapshots', h.nbSnapshots, h.nbSnapshots ? `${h.nbSnapshots} internal snapshot(s)` : 'no internal snapshots'),
    f('snapshots_offset', hex(h.snapshotsOffset), h.nbSnapshots ? 'host offset of the snapshot table' : 'unused'),
  ];
  if (h.version === 3) {
    fields.push(
      f('incompatible_features', maskHex(h.incompatibleFeatures), namesOf(describeFeatures(h), 'incompatible')),
      f('compatible_features', maskHex(h.compatibleFeatures), namesOf(describeFeatures(h), 'compatible')),
      f('autoclear_features', maskHex(h.autoclearFeatures), namesOf(describeFeatures(h), 'autoclear')),
      f('refcount_order', h.refcountOrder, `${i.refcountBits}-bit refcounts`),
      f('header_length', h.headerLength, `${h.headerLength} bytes of header before the extensions`),
    );
    if (h.headerLength > 104) fields.push(f('compression_type', h.compressionType, i.compressionType === 'zstd' ? 'zstd' : 'zlib (deflate)'));
  }
  return fields;
}

function namesOf(features: FeatureBitInfo[], group: Group): string {
  const names = features.filter((x) => x.group === group).map((x) => x.name);
  return names.length ? names.join(', ') : 'none';
}

export function imageWarnings(dev: Qcow2Dev): ImageWarning[] {
  const i = dev.info;
  const w: ImageWarning[] = [];
  if (i.corrupt) w.push({ kind: 'corrupt', message: 'The image is marked corrupt: QEMU and this editor refuse to write it until it is repaired.' });
  if (i.dirty)
    w.push({
      kind: 'dirty',
      message:
        'The dirty bit is set: the image was not closed cleanly and its refcounts may be stale (lazy refcounts). Nothing is written until it is repaired (qemu-img check -r all).',
    });
  if (dev.openDamage.length) {
    w.push({
      kind: 'damaged',
      message: `The image is damaged (${dev.openDamage.join('; ')}). The active disk reads as qemu-img reads it; nothing is written until it is repaired (qemu-img check -r all). The Integrity tab lists the damage.`,
    });
  }
  if (dev.header.cryptMethod !== 0 || dev.header.extensions.crypto) {
    const kind = dev.header.cryptMethod === 1 ? 'legacy AES' : 'LUKS';
    if (!dev.crypto)
      w.push({ kind: 'encrypted', message: `The image is encrypted (${kind}): unlock it with its passphrase to read guest data.`, action: 'unlock' });
    else
      w.push({
        kind: 'encrypted',
        message: `The image is encrypted (${kind}) and unlocked in this window: guest data is decrypted as it is read${dev.crypto.writable ? ' and encrypted as it is written' : ' (legacy AES is read-only here)'}.`,
      });
  }
  if (dev.bitmaps.length > 0) {
    const inUse = dev.bitmaps.filter((b) => b.flagNames.includes('in-use')).length;
    const live = trackedBitmaps(dev).length;
    // Say what a write really does (the engine's write/bitmap-tracking.ts).
    const effect = live
      ? `${live} of them enabled: writes (hex edits, the CLI's write) mark the ranges they touch in them, as QEMU does`
      : 'none enabled, so writes leave them unchanged, as in QEMU';
    w.push({
      kind: 'bitmaps',
      message: `The image has ${dev.bitmaps.length} persistent dirty bitmap(s)${inUse ? `, ${inUse} marked in use (inconsistent)` : ''}: ${effect}.`,
    });
  }
  if (i.hasDataFile) w.push({ kind: 'data-file', message: `Guest data lives in an external data file: ${dev.header.extensions.dataFile ?? '?'}.` });
  if (describeFeatures(dev.header).some((f) => !f.known && f.group !== 'incompatible')) {
    w.push({ kind: 'unknown-features', message: 'The image sets feature bits this tool does not know.' });
  }
  return w;
}

export function buildOverview(dev: Qcow2Dev, elapsedMs: number): OverviewData {
  return {
    file: dev.path,
    fileSize: dev.fileSize,
    virtualSize: dev.info.virtualSize,
    clusterSize: dev.info.clusterSize,
    version: dev.header.version,
    fields: headerFields(dev),
    features: describeFeatures(dev.header),
    extensions: describeExtensions(dev.header),
    snapshots: dev.snapshots.map((s) => ({
      id: s.id,
      name: s.name,
      date: new Date(s.dateSec * 1000).toISOString().replace('.000Z', 'Z'),
      vmClock: formatVmClock(s.vmClockNsec),
      vmStateSize: s.vmStateSize,
      diskSize: s.diskSize,
      l1Size: s.l1Size,
    })),
    bitmaps: dev.bitmaps.map((b) => ({ name: b.name, granularity: 2 ** b.granularityBits, flags: b.flagNames })),
    warnings: imageWarnings(dev),
    elapsedMs,
  };
}

/** VM clock in nanoseconds as qemu-img snapshot -l shows it: hh:mm:ss.mmm. */
export function formatVmClock(nsec: number): string {
  const ms = Math.floor(nsec / 1e6);
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor(ms / 60_000) % 60;
  const s = Math.floor(ms / 1000) % 60;
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}.${String(ms % 1000).padStart(3, '0')}`;
}
