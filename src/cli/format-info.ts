/**
 * `info` output: the fields, key order and text of `qemu-img info` (QEMU 7.2), plus one documented extra,
 * "backing-filename-format-probed" (true when the image names a backing file but not its format).
 */
import { type BlockLayer, Qcow2Dev, RawDev, type Qcow2IoOps, AUTOCLEAR_BITMAPS, isSet, qemuPathCombine } from '../qcow2';
import { encryptHuman, encryptJson, type EncryptJson } from './format-encrypt';

export interface SnapshotInfoJson {
  /** A bigint past 2^53, which the JSON writer prints exactly. */
  icount?: number | bigint;
  'vm-clock-nsec': number;
  name: string;
  'date-sec': number;
  'date-nsec': number;
  'vm-clock-sec': number;
  id: string;
  'vm-state-size': number;
}

export interface BitmapInfoJson {
  flags: string[];
  name: string;
  granularity: number;
}

export interface Qcow2SpecificJson {
  compat: string;
  'compression-type': string;
  'lazy-refcounts'?: boolean;
  bitmaps?: BitmapInfoJson[];
  'refcount-bits': number;
  'data-file'?: string;
  'data-file-raw'?: boolean;
  encrypt?: EncryptJson;
  corrupt?: boolean;
  'extended-l2'?: boolean;
}

export interface ImageInfoJson {
  'backing-filename-format'?: string;
  snapshots?: SnapshotInfoJson[];
  'virtual-size': number;
  filename: string;
  'cluster-size'?: number;
  format: 'qcow2' | 'raw';
  'actual-size'?: number;
  'format-specific'?: { type: 'qcow2'; data: Qcow2SpecificJson };
  'full-backing-filename'?: string;
  'backing-filename'?: string;
  /** Extra (not in qemu-img): the backing format is not recorded, so it is probed when the chain opens. */
  'backing-filename-format-probed'?: true;
  encrypted?: boolean;
  'dirty-flag': boolean;
}

async function actualSize(io: Qcow2IoOps): Promise<number | undefined> {
  const f = (io as { allocatedSize?: () => Promise<number> }).allocatedSize;
  return f ? f.call(io) : undefined;
}

/** The info of one layer; `name` is the file name as qemu-img would print it. */
export async function layerInfo(layer: BlockLayer, name: string): Promise<ImageInfoJson> {
  if (layer instanceof RawDev) {
    const out = { 'virtual-size': layer.virtualSize, filename: name, format: 'raw' } as ImageInfoJson;
    const actual = await actualSize(layer.io);
    if (actual !== undefined) out['actual-size'] = actual;
    out['dirty-flag'] = false;
    return out;
  }
  if (!(layer instanceof Qcow2Dev)) throw new Error(`unknown layer type for ${layer.path}`);
  const dev = layer;
  await dev.prepIo();
  const h = dev.header;
  const info = dev.info;
  const out: ImageInfoJson = {} as ImageInfoJson;
  if (h.backingFile !== undefined && h.extensions.backingFormat !== undefined) out['backing-filename-format'] = h.extensions.backingFormat;
  if (dev.snapshots.length > 0) out.snapshots = dev.snapshots.map(snapshotJson);
  out['virtual-size'] = info.virtualSize;
  out.filename = name;
  out['cluster-size'] = info.clusterSize;
  out.format = 'qcow2';
  const actual = await actualSize(dev.io);
  if (actual !== undefined) out['actual-size'] = actual;
  out['format-specific'] = { type: 'qcow2', data: qcow2Specific(dev, await encryptJson(dev)) };
  if (h.backingFile !== undefined) {
    out['full-backing-filename'] = qemuPathCombine(name, h.backingFile);
    out['backing-filename'] = h.backingFile;
    if (h.extensions.backingFormat === undefined) out['backing-filename-format-probed'] = true;
  }
  if (h.cryptMethod !== 0) out.encrypted = true;
  out['dirty-flag'] = info.dirty;
  return out;
}

export function snapshotJson(s: Qcow2Dev['snapshots'][number]): SnapshotInfoJson {
  const out: Partial<SnapshotInfoJson> = {};
  if (s.icount !== undefined) out.icount = s.icount;
  else if (s.icountText !== undefined) out.icount = BigInt(s.icountText);
  out['vm-clock-nsec'] = s.vmClockNsec % 1e9;
  out.name = s.name;
  out['date-sec'] = s.dateSec;
  out['date-nsec'] = s.dateNsec;
  out['vm-clock-sec'] = Math.floor(s.vmClockNsec / 1e9);
  out.id = s.id;
  out['vm-state-size'] = s.vmStateSize;
  return out as SnapshotInfoJson;
}

function qcow2Specific(dev: Qcow2Dev, encrypt: EncryptJson | undefined): Qcow2SpecificJson {
  const info = dev.info;
  const v3 = info.version >= 3;
  const out: Qcow2SpecificJson = { compat: v3 ? '1.1' : '0.10', 'compression-type': info.compressionType } as Qcow2SpecificJson;
  if (v3) out['lazy-refcounts'] = info.lazyRefcounts;
  // qemu ignores the bitmap directory when the "bitmaps" autoclear bit is clear.
  if (dev.bitmaps.length > 0 && isSet(dev.header.autoclearFeatures, AUTOCLEAR_BITMAPS)) {
    out.bitmaps = dev.bitmaps.map((b) => ({ flags: b.flagNames, name: b.name, granularity: 2 ** b.granularityBits }));
  }
  out['refcount-bits'] = info.refcountBits;
  if (info.hasDataFile) {
    if (dev.header.extensions.dataFile !== undefined) out['data-file'] = dev.header.extensions.dataFile;
    out['data-file-raw'] = info.dataFileRaw;
  }
  if (encrypt) out.encrypt = encrypt;
  if (v3) {
    out.corrupt = info.corrupt;
    out['extended-l2'] = info.extendedL2;
  }
  return out;
}

/** QEMU's size_to_str: three significant digits and a binary unit ("328 KiB", "1.5 GiB"). */
export function sizeToStr(val: number): string {
  const suffixes = ['', 'Ki', 'Mi', 'Gi', 'Ti', 'Pi', 'Ei'];
  let i = 0;
  // frexp(val / (1000 / 1024)) exponent minus one, in steps of ten bits: switch units once >= 1000.
  const scaled = (val * 1024) / 1000;
  if (scaled >= 1) i = Math.floor((Math.floor(Math.log2(scaled)) + 1 - 1) / 10);
  i = Math.min(i, suffixes.length - 1);
  const v = val / 2 ** (i * 10);
  return `${formatG3(v)} ${suffixes[i]}B`;
}

/** printf("%0.3g"). */
function formatG3(v: number): string {
  if (v === 0) return '0';
  const exp = Math.floor(Math.log10(Math.abs(v)));
  if (exp < -4 || exp >= 3) {
    const [m, e] = v.toExponential(2).split('e');
    const mant = m.replace(/\.?0+$/, '');
    const n = Number(e);
    return `${mant}e${n < 0 ? '-' : '+'}${String(Math.abs(n)).padStart(2, '0')}`;
  }
  return String(Number(v.toPrecision(3)));
}

/** printf("%-Ns"): pads to N bytes of UTF-8, not N characters. */
function padBytes(s: string, n: number): string {
  return s + ' '.repeat(Math.max(0, n - Buffer.byteLength(s, 'utf8')));
}

function pad2(n: number): string {
  return String(n).padStart(2, '0');
}

/** One row of qemu's snapshot table (bdrv_snapshot_dump), date in local time as qemu prints it. */
export function snapshotRow(s: SnapshotInfoJson): string {
  const d = new Date(s['date-sec'] * 1000);
  const date = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  const clockNs = s['vm-clock-sec'] * 1e9 + s['vm-clock-nsec'];
  const secs = Math.floor(clockNs / 1e9);
  const clock = `${pad2(Math.floor(secs / 3600))}:${pad2(Math.floor(secs / 60) % 60)}:${pad2(secs % 60)}.${String(Math.floor(clockNs / 1e6) % 1000).padStart(3, '0')}`;
  const icount = s.icount !== undefined ? String(s.icount) : '';
  return `${padBytes(s.id, 9)} ${padBytes(s.name, 16)} ${sizeToStr(s['vm-state-size']).padStart(8)}${date.padStart(20)}${clock.padStart(13)}${icount.padStart(11)}`;
}

const SPECIFIC_LABELS: [keyof Qcow2SpecificJson, string][] = [
  ['compat', 'compat'],
  ['compression-type', 'compression type'],
  ['lazy-refcounts', 'lazy refcounts'],
  ['bitmaps', 'bitmaps'],
  ['refcount-bits', 'refcount bits'],
  ['data-file', 'data file'],
  ['data-file-raw', 'data file raw'],
  ['encrypt', 'encrypt'],
  ['corrupt', 'corrupt'],
  ['extended-l2', 'extended l2'],
];

/** qemu-img info's human text for one layer. */
export function infoHuman(i: ImageInfoJson, probedFormat?: string): string {
  const lines = [
    `image: ${i.filename}`,
    `file format: ${i.format}`,
    `virtual size: ${sizeToStr(i['virtual-size'])} (${i['virtual-size']} bytes)`,
    `disk size: ${i['actual-size'] !== undefined ? sizeToStr(i['actual-size']) : 'unavailable'}`,
  ];
  if (i.encrypted) lines.push('encrypted: yes');
  if (i['cluster-size'] !== undefined) lines.push(`cluster_size: ${i['cluster-size']}`);
  if (i['dirty-flag']) lines.push('cleanly shut down: no');
  if (i['backing-filename'] !== undefined) {
    const full = i['full-backing-filename'];
    lines.push(`backing file: ${i['backing-filename']}${full !== undefined && full !== i['backing-filename'] ? ` (actual path: ${full})` : ''}`);
  }
  if (i['backing-filename-format'] !== undefined) lines.push(`backing file format: ${i['backing-filename-format']}`);
  else if (i['backing-filename-format-probed']) lines.push(`backing file format: ${probedFormat ?? 'unknown'} (probed: not recorded in the image)`);
  if (i.snapshots) {
    lines.push('Snapshot list:');
    lines.push(`${'ID'.padEnd(10)}${'TAG'.padEnd(17)}${'VM SIZE'.padStart(8)}${'DATE'.padStart(20)}${'VM CLOCK'.padStart(13)}${'ICOUNT'.padStart(11)}`);
    for (const s of i.snapshots) lines.push(snapshotRow(s));
  }
  const spec = i['format-specific']?.data;
  if (spec) {
    lines.push('Format specific information:');
    for (const [key, label] of SPECIFIC_LABELS) {
      const v = spec[key];
      if (v === undefined) continue;
      if (key === 'bitmaps') {
        lines.push(`    ${label}:`);
        (v as BitmapInfoJson[]).forEach((b, n) => {
          lines.push(`        [${n}]:`, '            flags:');
          b.flags.forEach((f, k) => lines.push(`                [${k}]: ${f}`));
          lines.push(`            name: ${b.name}`, `            granularity: ${b.granularity}`);
        });
      } else if (key === 'encrypt') lines.push(...encryptHuman(v as EncryptJson));
      else lines.push(`    ${label}: ${v}`);
    }
  }
  return lines.join('\n') + '\n';
}
