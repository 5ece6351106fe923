/** Guest file systems: detection, containers (partitions, LVM) and the read-only readers. No vscode import below here. */
export * from './types';
export { diskDevice, subDevice, bufferDevice, type GuestReader } from './device';
export { detectDisk, findVolume, volumeName, type DiskLayout, type Volume } from './detect';
export { identify, type ContentType, type Identified } from './signatures';
export { openFs, hasReader } from './registry';
export { openExt } from './ext/index';
export { LvDevice } from './lvm/index';
export { volumeAtDiskOffset } from './locate';
