/** Which volume a guest-disk offset falls in: an LV (through its segments) before the partition that holds it. */
import type { DiskLayout, Volume } from './detect';
import { LvDevice } from './lvm/lv-device';

export function volumeAtDiskOffset(layout: DiskLayout, diskOffset: number): { volume: Volume; deviceOffset: number } | undefined {
  for (const v of layout.volumes) {
    if (v.kind !== 'lv' || !(v.device instanceof LvDevice)) continue;
    const at = v.device.fromDiskOffset(diskOffset);
    if (at !== undefined) return { volume: v, deviceOffset: at };
  }
  for (const v of layout.volumes) {
    if (v.kind === 'lv') continue;
    const at = diskOffset - v.device.diskOffset;
    if (at >= 0 && at < v.device.size) return { volume: v, deviceOffset: at };
  }
  return undefined;
}
