/** Detected content type → the reader that opens it. Types with no reader are listed by detection only. */
import { openExt } from './ext';
import { openFat } from './fat/index';
import { openNtfs } from './ntfs/index';
import type { ContentType } from './signatures';
import { GuestFsError, type GuestFs, type ReadOnlyDevice } from './types';

const READERS: Partial<Record<ContentType, (dev: ReadOnlyDevice) => Promise<GuestFs>>> = {
  ext2: openExt,
  ext3: openExt,
  ext4: openExt,
  fat12: openFat,
  fat16: openFat,
  fat32: openFat,
  ntfs: openNtfs,
};

export function hasReader(type: ContentType): boolean {
  return type in READERS;
}

export function openFs(device: ReadOnlyDevice, type: ContentType): Promise<GuestFs> {
  const open = READERS[type];
  if (!open) return Promise.reject(new GuestFsError('unsupported', `${type} is detected by signature only; its files cannot be read`));
  return open(device);
}
