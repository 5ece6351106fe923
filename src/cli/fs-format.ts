/** Text helpers shared by the `fs` subcommands. */
import type { FileStat } from '../guestfs/index';

const TYPE_CHAR: Record<string, string> = { file: '-', dir: 'd', symlink: 'l', other: '?' };

/** `drwxr-xr-x`, from POSIX mode bits when the file system has them, else from the type alone. */
export function modeString(st: FileStat): string {
  if (st.mode === undefined) return `${TYPE_CHAR[st.type]}${st.type === 'dir' ? 'rwxr-xr-x' : 'rw-r--r--'}`;
  const m = st.mode;
  const kind = { 0x1000: 'p', 0x2000: 'c', 0x4000: 'd', 0x6000: 'b', 0x8000: '-', 0xa000: 'l', 0xc000: 's' }[m & 0xf000] ?? '?';
  const rwx = (shift: number, special: number, ch: string): string =>
    ((m >> shift) & 4 ? 'r' : '-') + ((m >> shift) & 2 ? 'w' : '-') + (m & special ? ((m >> shift) & 1 ? ch : ch.toUpperCase()) : (m >> shift) & 1 ? 'x' : '-');
  return kind + rwx(6, 0x800, 's') + rwx(3, 0x400, 's') + rwx(0, 0x200, 't');
}
