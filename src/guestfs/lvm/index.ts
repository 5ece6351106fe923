/** LVM2: physical volumes and their linear logical volumes as read-only devices. */
export { readPhysicalVolume, type PhysicalVolume } from './pv';
export { logicalVolumes, type LogicalVolume } from './volume-group';
export { LvDevice, type LvSegment } from './lv-device';
export { parseLvmText } from './text';
