/**
 * The data inspector: the bytes at the hex view's cursor read as integers, floats, binary and a GUID.
 * Pure, shared by the webview and its tests. 64-bit integers use BigInt because they are displayed exactly;
 * they are never used as offsets.
 */
import { formatGuid } from '../../src/shared/partitions';

export interface InspectorRow {
  label: string;
  /** The decoded value, or "—" when fewer bytes than needed are left before the end of the disk. */
  value: string;
}

const NONE = '—';

/** Decodes `bytes` (those from the cursor onwards; 16 are enough) in the given byte order. */
export function inspectBytes(bytes: Uint8Array, littleEndian: boolean): InspectorRow[] {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const have = (n: number) => bytes.length >= n;
  const rows: InspectorRow[] = [];
  const add = (label: string, n: number, f: () => string) => rows.push({ label, value: have(n) ? f() : NONE });
  add('binary', 1, () => bytes[0].toString(2).padStart(8, '0'));
  add('u8', 1, () => String(dv.getUint8(0)));
  add('i8', 1, () => String(dv.getInt8(0)));
  add('u16', 2, () => String(dv.getUint16(0, littleEndian)));
  add('i16', 2, () => String(dv.getInt16(0, littleEndian)));
  add('u32', 4, () => String(dv.getUint32(0, littleEndian)));
  add('i32', 4, () => String(dv.getInt32(0, littleEndian)));
  add('u64', 8, () => dv.getBigUint64(0, littleEndian).toString());
  add('i64', 8, () => dv.getBigInt64(0, littleEndian).toString());
  add('f32', 4, () => formatFloat(dv.getFloat32(0, littleEndian), 9));
  add('f64', 8, () => formatFloat(dv.getFloat64(0, littleEndian), 17));
  add('GUID', 16, () => formatGuid(bytes, 0));
  add('char', 1, () => printable(bytes[0]));
  return rows;
}

function formatFloat(v: number, digits: number): string {
  if (!Number.isFinite(v)) return String(v);
  return String(Number(v.toPrecision(digits)));
}

/** One byte as the text column shows it: printable ASCII, else a dot. */
export function printable(b: number): string {
  return b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
}
