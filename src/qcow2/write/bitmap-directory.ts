/**
 * Rewriting the bitmap directory of an image that has one (setting or clearing in-use flags, new table offsets):
 * copy-on-write, never in place. The new directory goes to new clusters (their refcounts written and synced
 * first), is synced, and then the bitmaps header extension is pointed at it with one write inside one sector
 * (write/bitmaps-header.ts), synced; the old directory is freed after that. A power cut leaves the old directory or
 * the new one, with leaked clusters at most. (QEMU rewrites the directory in place with autoclear bit 0 cleared
 * around it, so a cut in between makes it drop every bitmap; this way no bitmap is ever lost.)
 */
import { setU32, setU64, u16, u32 } from '../format/bytes';
import { BME_FLAG_AUTO, BME_FLAG_IN_USE } from '../format/bitmaps';
import { Qcow2Error } from '../errors';
import { readFully } from '../io/ops';
import { planBitmapsUpdate } from './bitmaps-header';
import type { ClusterAllocator } from './alloc';
import type { MetadataMap } from './metadata-map';
import type { MetaWriteback } from './meta-writeback';
import type { WritableImage } from './writable-image';

/** What the bitmap code uses of the writer (Qcow2Writer), named here so that the writer can own the tracking. */
export interface WriterParts {
  readonly alloc: Pick<ClusterAllocator, 'alloc'>;
  readonly meta: MetadataMap;
  readonly wb: MetaWriteback;
  flush(): Promise<void>;
}

/** What changes in one directory entry, found by name. */
export interface EntryChange {
  flags: number;
  tableOffset?: number;
}

/** Reads the directory as on disk, applies `changes` (by bitmap name), and switches the image to the result. */
export async function rewriteBitmapDirectory(dev: WritableImage, w: WriterParts, changes: Map<string, EntryChange>): Promise<void> {
  const cs = dev.info.clusterSize;
  const old = dev.header.extensions.bitmaps;
  if (!old) throw new Qcow2Error('bad-image', 'the image has no bitmap directory', dev.path);
  const dir = new Uint8Array(old.directorySize);
  if ((await readFully(dev.io, dir, old.directoryOffset)) < dir.length) throw new Qcow2Error('bad-image', 'bitmap directory is truncated', dev.path);
  const decoder = new TextDecoder();
  const bitmaps = dev.bitmaps.map((b) => ({ ...b }));
  for (let pos = 0, i = 0; i < old.nbBitmaps && pos + 24 <= dir.length; i++) {
    const nameLen = u16(dir, pos + 18);
    const extra = u32(dir, pos + 20);
    const name = decoder.decode(dir.subarray(pos + 24 + extra, pos + 24 + extra + nameLen));
    const change = changes.get(name);
    if (change) {
      setU32(dir, pos + 12, change.flags);
      if (change.tableOffset !== undefined) setU64(dir, pos, change.tableOffset);
      const b = bitmaps.find((x) => x.name === name);
      if (b) {
        b.flags = change.flags;
        b.tableOffset = change.tableOffset ?? b.tableOffset;
        b.flagNames = flagNames(change.flags);
      }
    }
    pos += Math.ceil((24 + extra + nameLen) / 8) * 8;
  }

  const header = new Uint8Array(cs);
  await readFully(dev.io, header, 0);
  const plan = (offset: number) => planBitmapsUpdate(header, dev.header.headerLength, old.nbBitmaps, dir.length, offset, dev.path);
  plan(cs); // refused (an extension across a sector boundary) before anything is allocated
  const clusters = Math.ceil(dir.length / cs);
  const at = (await w.alloc.alloc(clusters)) * cs;
  await w.flush(); // the refcounts first
  const padded = new Uint8Array(clusters * cs);
  padded.set(dir);
  dev.cache.forgetHostRange(at, padded.length);
  w.meta.check(at, padded.length, 'a bitmap directory');
  await dev.io.writeAt(padded, at);
  dev.noteFileEnd(at + padded.length);
  await dev.io.fsync();
  for (const write of plan(at).writes) {
    await dev.io.writeAt(write.bytes, write.offset);
    await dev.io.fsync();
  }
  dev.tables.switchBitmapDirectory(bitmaps, { nbBitmaps: old.nbBitmaps, directorySize: dir.length, directoryOffset: at });
  w.meta.removeRange(old.directoryOffset, old.directorySize);
  w.meta.addRange(at, dir.length, 'bitmap directory');
  for (let c = old.directoryOffset / cs; c * cs < old.directoryOffset + old.directorySize; c++) w.wb.pendingDecrements.push(c);
}

export function flagNames(flags: number): string[] {
  const names: string[] = [];
  if (flags & BME_FLAG_IN_USE) names.push('in-use');
  if (flags & BME_FLAG_AUTO) names.push('auto');
  return names;
}
