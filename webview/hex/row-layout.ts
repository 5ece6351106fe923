/** How one row of the hex view is laid out and labelled, and what copy produces. Pure, unit-tested. */

export type OffsetMode = 'hex' | 'dec' | 'lba';
export const BYTES_PER_ROW_CHOICES = [8, 16, 32, 64] as const;
export const GROUP_CHOICES = [1, 2, 4, 8] as const;

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

export function byteHex(b: number): string {
  return HEX[b];
}

/** The offset column label; every label of one disk has the same width so the column lines up. */
export function formatOffset(offset: number, mode: OffsetMode, diskSize: number, sectorSize: number): string {
  switch (mode) {
    case 'hex':
      return offset.toString(16).padStart(Math.max(8, Math.max(0, diskSize - 1).toString(16).length), '0');
    case 'dec':
      return String(offset).padStart(String(Math.max(0, diskSize - 1)).length, ' ');
    case 'lba': {
      const lba = Math.floor(offset / sectorSize);
      const width = String(Math.floor(Math.max(0, diskSize - 1) / sectorSize)).length;
      const within = offset % sectorSize;
      const wWidth = (sectorSize - 1).toString(16).length;
      return `${String(lba).padStart(width, ' ')}+${within.toString(16).padStart(wWidth, '0')}`;
    }
  }
}

/** Whether a gap precedes byte `i` of a row (the byte grouping). */
export function gapBefore(i: number, group: number): boolean {
  return i > 0 && i % group === 0;
}

/** Selected bytes as hex, one row of the view per line, grouped like the view. */
export function copyAsHex(bytes: Uint8Array, startOffset: number, bytesPerRow: number, group: number): string {
  let out = '';
  for (let i = 0; i < bytes.length; i++) {
    const col = (startOffset + i) % bytesPerRow;
    if (i > 0) out += col === 0 ? '\n' : group === 1 || gapBefore(col, group) ? ' ' : '';
    out += HEX[bytes[i]];
  }
  return out;
}

/** Selected bytes as text: printable ASCII kept, everything else a dot (as the text column shows it). */
export function copyAsText(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b >= 0x20 && b < 0x7f ? String.fromCharCode(b) : '.';
  return s;
}

/** Parses what was typed into the hex column: a hex digit, or undefined. */
export function hexDigit(key: string): number | undefined {
  return /^[0-9a-fA-F]$/.test(key) ? parseInt(key, 16) : undefined;
}
