/**
 * Where a file has data and where it has holes, as qemu's file driver sees it (lseek SEEK_DATA/SEEK_HOLE).
 * Node has no lseek, so this uses the optional native addon built from src/native/seek.c. Without the
 * addon every byte below the end of the file counts as data.
 */
import { join } from 'node:path';

interface SeekAddon {
  seekData(fd: number, offset: number): number;
  seekHole(fd: number, offset: number): number;
  /** copy_file_range(2): bytes copied, short only at the end of the input; throws on error. */
  copyFileRange?(fdIn: number, offIn: number, fdOut: number, offOut: number, length: number): number;
  /** memmem(3): the first start of needle in haystack[from, end), or -1 (the search module's fast path). */
  indexOf?(haystack: Uint8Array, needle: Uint8Array, from: number, end: number): number;
}

let addon: SeekAddon | null | undefined;

/** The addon, or null when it was not built, cannot load here, or Q2I_NO_SEEK_ADDON=1 turns it off. */
export function seekAddon(): SeekAddon | null {
  if (addon !== undefined) return addon;
  addon = null;
  if (process.env.Q2I_NO_SEEK_ADDON === '1') return addon;
  // dist/cli.js and dist/extension.js sit beside dist/native; under tsx this file is in src/qcow2/io.
  for (const dir of [join(__dirname, 'native'), join(__dirname, '../../../dist/native'), join(__dirname, '../native')]) {
    try {
      // eslint-disable-next-line @typescript-eslint/no-require-imports
      addon = require(join(dir, 'qcow2_seek.node')) as SeekAddon;
      break;
    } catch {
      // try the next place
    }
  }
  return addon;
}

/** What a file holds at an offset: a data extent or a hole, up to `end` (exclusive). */
export interface FileExtent {
  hole: boolean;
  end: number;
}

/**
 * The extent holding `offset` of the file open as `fd` with `size` bytes. Past the end of the file, or with
 * no data after `offset`, it is a hole to infinity (qemu's "trailing hole").
 */
export function fileExtentAt(fd: number | undefined, size: number, offset: number): FileExtent {
  if (offset >= size) return { hole: true, end: Infinity };
  const seek = fd === undefined ? null : seekAddon();
  if (!seek) return { hole: false, end: size };
  try {
    const data = seek.seekData(fd!, offset);
    if (data < 0) return { hole: true, end: Infinity };
    if (data > offset) return { hole: true, end: data };
    const hole = seek.seekHole(fd!, offset);
    return { hole: false, end: hole < 0 ? size : hole };
  } catch {
    return { hole: false, end: size }; // no information: pretend there are no holes, as qemu does
  }
}

/** Tests: forget the loaded addon so the next lookup loads it again (or not, per Q2I_NO_SEEK_ADDON). */
export function resetSeekAddon(): void {
  addon = undefined;
}
