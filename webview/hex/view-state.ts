/** What the hex view keeps across webview reloads (VS Code's webview state), checked when read back. */
import { BYTES_PER_ROW_CHOICES, GROUP_CHOICES, type OffsetMode } from './row-layout';

export interface HexState {
  cursor: number;
  topRow: number;
  mode: OffsetMode;
  /** A fixed width, or 'auto' (the default): the widest row the grid's width shows whole (row-fit.ts). */
  bytesPerRow: number | 'auto';
  group: number;
  littleEndian: boolean;
  /** Data inspector side panel shown; undefined until the user chooses (then: shown unless the editor is narrow). */
  inspector?: boolean;
}

/** The saved state, each field checked (the state is only as trustworthy as the webview that wrote it). */
export function loadHexState(raw: unknown, virtualSize: number): HexState {
  const saved = (raw ?? {}) as Partial<HexState>;
  return {
    cursor: clampInt(saved.cursor, 0, Math.max(0, virtualSize - 1), 0),
    topRow: clampInt(saved.topRow, 0, Number.MAX_SAFE_INTEGER, 0),
    mode: saved.mode === 'dec' || saved.mode === 'lba' ? saved.mode : 'hex',
    bytesPerRow: (BYTES_PER_ROW_CHOICES as readonly number[]).includes(saved.bytesPerRow as number) ? saved.bytesPerRow! : 'auto',
    group: (GROUP_CHOICES as readonly number[]).includes(saved.group as number) ? saved.group! : 1,
    littleEndian: saved.littleEndian !== false,
    inspector: typeof saved.inspector === 'boolean' ? saved.inspector : undefined,
  };
}

function clampInt(v: unknown, min: number, max: number, dflt: number): number {
  return typeof v === 'number' && Number.isSafeInteger(v) ? Math.min(max, Math.max(min, v)) : dflt;
}
