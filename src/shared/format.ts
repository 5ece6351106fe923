/** Number formatting shared by the host (log, notifications) and the webview. No DOM, no vscode. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];

/** 1536 → "1.5 KiB"; exact powers print without decimals ("64 KiB"). */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  let v = Math.abs(n);
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  const digits = u === 0 || Number.isInteger(v) ? 0 : v < 10 ? 2 : v < 100 ? 1 : 0;
  return `${n < 0 ? '-' : ''}${v.toFixed(digits)} ${UNITS[u]}`;
}

/** 0x-prefixed lower-case hex, optionally zero-padded to `width` digits. */
export function hex(n: number, width = 0): string {
  return '0x' + n.toString(16).padStart(width, '0');
}

/** Hex padded to the width needed for `max` (so a column lines up). */
export function hexFor(n: number, max: number): string {
  return hex(n, Math.max(1, max.toString(16).length));
}

/** Thousands-grouped decimal. */
export function decimal(n: number): string {
  return n.toLocaleString('en-US');
}

export function percent(fraction: number): string {
  if (!Number.isFinite(fraction)) return '–';
  const p = fraction * 100;
  return `${p === 0 || p >= 10 || p === 100 ? p.toFixed(0) : p.toFixed(1)}%`;
}

/** A guest range as "0x1000–0x1fff (4 KiB)". */
export function formatRange(start: number, length: number): string {
  return `${hex(start)}–${hex(start + length - 1)} (${formatBytes(length)})`;
}

/** The LBA of a byte offset for a sector size. */
export function lba(offset: number, sectorSize: number): number {
  return Math.floor(offset / sectorSize);
}

/**
 * Parses what people type for an offset: decimal, 0x hex, a size with a unit (4K, 1.5G, 10MiB) or an LBA
 * ("lba 2048", "2048s"). Returns undefined for anything else.
 */
export function parseOffset(text: string, sectorSize = 512): number | undefined {
  const t = text.trim().toLowerCase().replace(/_/g, '');
  let m = /^(?:lba\s*|sector\s*)(\d+)$/.exec(t) ?? /^(\d+)\s*s$/.exec(t);
  if (m) return checked(Number(m[1]) * sectorSize);
  if (/^0x[0-9a-f]+$/.test(t)) return checked(parseInt(t.slice(2), 16));
  m = /^(\d+(?:\.\d+)?)\s*([kmgtpe]?)(?:i?b)?$/.exec(t);
  if (!m) return undefined;
  const mult = 1024 ** ' kmgtpe'.indexOf(m[2] || ' ');
  const v = Number(m[1]) * mult;
  return Number.isInteger(v) ? checked(v) : undefined;
}

function checked(v: number): number | undefined {
  return Number.isSafeInteger(v) && v >= 0 ? v : undefined;
}

/** Hex dump lines (offset, 16 bytes, text), as `hexdump -C`, for the read-only preview and the log. */
export function hexDumpLines(bytes: Uint8Array, baseOffset: number, width = 16): string[] {
  const lines: string[] = [];
  const offWidth = Math.max(8, (baseOffset + bytes.length).toString(16).length);
  for (let i = 0; i < bytes.length; i += width) {
    const row = bytes.subarray(i, i + width);
    const hexCol = Array.from(row, (b) => b.toString(16).padStart(2, '0')).join(' ');
    const text = Array.from(row, (b) => (b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.')).join('');
    lines.push(`${(baseOffset + i).toString(16).padStart(offWidth, '0')}  ${hexCol.padEnd(width * 3 - 1)}  |${text}|`);
  }
  return lines;
}
