/**
 * The master file table: records read through $MFT's own runlist (bootstrapped from record 0) 64 at a time, fixups
 * applied, kept in a bounded LRU; and files assembled from a base record plus the extension records its
 * $ATTRIBUTE_LIST names. An extension record must name the file as its base, and a list may not reference more
 * records than it has entries, so a record pointing at itself or a list of loops cannot make the load unbounded.
 */
import type { ReadOnlyDevice } from '../types';
import { badFs, le16, Lru, readDev } from '../reader-util';
import { AT, applyFixups, parseRecord, refNumber, type Attr, type MftRecord } from './record';
import { AttrReader, findRun } from './attr-data';
import type { NtfsBoot } from './boot';

export interface NtfsFile {
  number: number;
  record: MftRecord;
  attrs: Attr[];
}

/** An attribute list longer than this is refused (Windows keeps them far smaller). */
const MAX_ATTR_LIST = 256 * 1024;
/** Records read together (64 KiB with 1 KiB records), 16 such pieces kept. */
const CHUNK_RECORDS = 64;

export class Mft {
  readonly reader: AttrReader;
  private mftData!: Attr;
  private readonly records = new Lru<number, MftRecord>(4096);
  private readonly files = new Lru<number, NtfsFile>(1024);
  private readonly chunks = new Lru<number, Uint8Array>(16);
  recordCount = 0;

  constructor(
    readonly dev: ReadOnlyDevice,
    readonly boot: NtfsBoot,
  ) {
    this.reader = new AttrReader(dev, boot.clusterSize, boot.totalBytes);
  }

  async init(): Promise<void> {
    const buf = await readDev(this.dev, this.boot.mftOffset, this.boot.recordSize, '$MFT record 0');
    applyFixups(buf, 'FILE', 'MFT record 0');
    const rec0 = parseRecord(buf, 0);
    const data = rec0.attrs.find((a) => a.type === AT.DATA && a.name === '' && a.nonResident);
    if (!data || data.startVcn !== 0) throw badFs('$MFT has no non-resident $DATA');
    this.mftData = data;
    this.setRecordCount();
    // With an attribute list, the rest of $MFT's runs live in extension records reachable through the first runs.
    if (rec0.attrs.some((a) => a.type === AT.ATTRIBUTE_LIST)) {
      const file = await this.assemble(0, rec0);
      const full = file.attrs.find((a) => a.type === AT.DATA && a.name === '');
      if (full) this.mftData = full;
      this.setRecordCount();
    }
  }

  /** Records that exist: bounded by the data size and by the clusters the runs really allocate (sparse MFT runs hold none). */
  private setRecordCount(): void {
    const allocated = this.mftData.runs.reduce((n, r) => n + (r.lcn >= 0 ? r.length : 0), 0) * this.boot.clusterSize;
    this.recordCount = Math.floor(Math.min(this.mftData.dataSize, allocated, this.boot.totalBytes) / this.boot.recordSize);
  }

  /** Device byte offset of a record when it lies in one run (for owner() and resident extents). */
  recordDeviceOffset(n: number): number | undefined {
    const byte = n * this.boot.recordSize;
    const cs = this.boot.clusterSize;
    const run = findRun(this.mftData.runs, Math.floor(byte / cs));
    if (!run || run.lcn < 0) return undefined;
    return run.lcn * cs + (byte - run.vcn * cs);
  }

  get mftRuns(): Attr {
    return this.mftData;
  }

  async record(n: number): Promise<MftRecord> {
    const hit = this.records.get(n);
    if (hit) return hit;
    if (!Number.isSafeInteger(n) || n < 0 || n >= this.recordCount) throw badFs(`MFT record ${n} is past the MFT's ${this.recordCount} records`);
    const size = this.boot.recordSize;
    const first = n - (n % CHUNK_RECORDS);
    const chunk = await this.chunk(first).catch(() => undefined);
    let buf: Uint8Array;
    if (chunk) buf = chunk.slice((n - first) * size, (n - first + 1) * size);
    else {
      // The chunk spans a run the MFT lacks: read just this record, which names the failure exactly.
      buf = new Uint8Array(size);
      await this.reader.readRuns(this.mftData.runs, n * size, buf, '$MFT');
    }
    applyFixups(buf, 'FILE', `MFT record ${n}`);
    const rec = parseRecord(buf, n);
    this.records.set(n, rec);
    return rec;
  }

  /** Records [first, first + CHUNK_RECORDS) as one read (neighbours in a directory are usually neighbours here). */
  private async chunk(first: number): Promise<Uint8Array> {
    const hit = this.chunks.get(first);
    if (hit) return hit;
    const size = this.boot.recordSize;
    const buf = new Uint8Array(Math.min(CHUNK_RECORDS, this.recordCount - first) * size);
    await this.reader.readRuns(this.mftData.runs, first * size, buf, '$MFT');
    this.chunks.set(first, buf);
    return buf;
  }

  /** A file's attributes, merged over its extension records. */
  async file(n: number): Promise<NtfsFile> {
    const hit = this.files.get(n);
    if (hit) return hit;
    const rec = await this.record(n);
    if (!rec.inUse) throw badFs(`MFT record ${n} is not in use`);
    if (rec.base !== 0) throw badFs(`MFT record ${n} is an extension of record ${rec.base}, not a file`);
    const file = await this.assemble(n, rec);
    this.files.set(n, file);
    return file;
  }

  private async assemble(n: number, rec: MftRecord): Promise<NtfsFile> {
    const listAttr = rec.attrs.find((a) => a.type === AT.ATTRIBUTE_LIST);
    if (!listAttr) return { number: n, record: rec, attrs: rec.attrs };
    if (listAttr.dataSize > MAX_ATTR_LIST) throw badFs(`MFT record ${n}: $ATTRIBUTE_LIST of ${listAttr.dataSize} bytes`);
    const list = await this.reader.read(listAttr, 0, listAttr.dataSize, `MFT record ${n} $ATTRIBUTE_LIST`);
    const wanted = new Map<number, Set<number>>(); // record -> attribute ids it holds for us
    for (let off = 0; off + 26 <= list.length;) {
      const len = le16(list, off + 4);
      if (len < 26 || off + len > list.length) throw badFs(`MFT record ${n}: malformed $ATTRIBUTE_LIST entry at ${off}`);
      const ref = refNumber(list, off + 16);
      if (ref !== n) {
        if (!wanted.has(ref)) wanted.set(ref, new Set());
        wanted.get(ref)!.add(le16(list, off + 24));
      }
      off += len;
    }
    const attrs = [...rec.attrs];
    for (const [ref, ids] of wanted) {
      const ext = await this.record(ref);
      if (ext.base !== n) throw badFs(`MFT record ${n}: $ATTRIBUTE_LIST names record ${ref}, which belongs to record ${ext.base}`);
      for (const a of ext.attrs) if (ids.has(a.id)) attrs.push(a);
    }
    return { number: n, record: rec, attrs: mergePieces(attrs) };
  }
}

/** Joins the pieces of a non-resident attribute split over records (same type and name) into one runlist. */
function mergePieces(attrs: Attr[]): Attr[] {
  const out: Attr[] = [];
  const byKey = new Map<string, Attr[]>();
  for (const a of attrs) {
    if (!a.nonResident || a.type === AT.ATTRIBUTE_LIST) {
      out.push(a);
      continue;
    }
    const key = `${a.type}:${a.name}`;
    if (!byKey.has(key)) byKey.set(key, []);
    byKey.get(key)!.push(a);
  }
  for (const pieces of byKey.values()) {
    pieces.sort((x, y) => x.startVcn - y.startVcn);
    const head = pieces[0];
    if (pieces.length === 1) {
      out.push(head);
      continue;
    }
    const runs = pieces.flatMap((p) => p.runs);
    for (let i = 1; i < runs.length; i++)
      if (runs[i].vcn < runs[i - 1].vcn + runs[i - 1].length) throw badFs(`attribute 0x${head.type.toString(16)}: pieces overlap at VCN ${runs[i].vcn}`);
    out.push({ ...head, lastVcn: pieces[pieces.length - 1].lastVcn, runs });
  }
  return out;
}
