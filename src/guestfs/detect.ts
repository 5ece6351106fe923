/**
 * What a guest disk holds: its partition table (scanPartitions), what each partition holds, a file system on the
 * whole disk when there is no table, and the logical volumes of any LVM2 physical volumes found. Each volume is a
 * ReadOnlyDevice a reader can open (openFs in registry.ts).
 */
import { scanPartitions, type Partition, type PartitionTable } from '../shared/partitions';
import { subDevice } from './device';
import { logicalVolumes, readPhysicalVolume, type PhysicalVolume } from './lvm/index';
import { identify, type ContentType, type Identified } from './signatures';
import { GuestFsError, type ReadOnlyDevice } from './types';

export interface Volume {
  /** How `[N:]/path` names it: the partition number, the LV name, or '' for the whole disk. */
  id: string;
  kind: 'disk' | 'partition' | 'lv';
  device: ReadOnlyDevice;
  content: Identified;
  partition?: Partition;
  /** For an LV: its VG. */
  vg?: string;
  /** Why this volume cannot be read (an LV of an unsupported kind, a PV without metadata). */
  problem?: string;
}

/** "partition 1", "LV vg/root", "whole disk": how messages name a volume. */
export function volumeName(v: Volume): string {
  if (v.kind === 'disk') return 'whole disk';
  if (v.kind === 'lv') return `LV ${v.vg}/${v.id}`;
  return `partition ${v.id}`;
}

export interface DiskLayout {
  table: PartitionTable;
  volumes: Volume[];
  warnings: string[];
}

export async function detectDisk(disk: ReadOnlyDevice): Promise<DiskLayout> {
  const read = async (offset: number, length: number): Promise<Uint8Array> => {
    const buf = new Uint8Array(Math.max(0, Math.min(length, disk.size - offset)));
    await disk.readAt(buf, offset);
    return buf;
  };
  const table = await scanPartitions(read, disk.size);
  const warnings = [...table.warnings];
  const volumes: Volume[] = [];
  const parts = table.partitions.filter((p) => !p.extended && p.end <= disk.size && p.end > p.start);
  if (parts.length === 0) {
    volumes.push({ id: '', kind: 'disk', device: disk, content: await identifySafe(disk, warnings, 'whole disk') });
  }
  for (const p of parts) {
    const device = subDevice(disk, p.start, p.end - p.start);
    volumes.push({ id: String(p.number), kind: 'partition', device, content: await identifySafe(device, warnings, `partition ${p.number}`), partition: p });
  }
  const pvs: PhysicalVolume[] = [];
  for (const v of volumes) {
    if (v.content.type !== 'lvm2_pv') continue;
    try {
      pvs.push(await readPhysicalVolume(v.device));
    } catch (err) {
      if (!(err instanceof GuestFsError)) throw err;
      v.problem = err.message;
    }
  }
  if (pvs.length) {
    try {
      for (const lv of logicalVolumes(pvs)) {
        const content: Identified = lv.device ? await identifySafe(lv.device, warnings, `LV ${lv.vg}/${lv.name}`) : { type: 'unknown' };
        volumes.push({ id: lv.name, kind: 'lv', vg: lv.vg, device: lv.device ?? emptyDevice(), content, problem: lv.problem });
      }
    } catch (err) {
      if (!(err instanceof GuestFsError)) throw err;
      warnings.push(err.message);
    }
  }
  return { table, volumes, warnings };
}

async function identifySafe(dev: ReadOnlyDevice, warnings: string[], where: string): Promise<Identified> {
  try {
    return await identify(dev);
  } catch (err) {
    if (!(err instanceof GuestFsError)) throw err;
    warnings.push(`${where}: ${err.message}`);
    return { type: 'unknown' };
  }
}

function emptyDevice(): ReadOnlyDevice {
  return {
    size: 0,
    diskOffset: 0,
    readAt: () => Promise.reject(new GuestFsError('unsupported', 'this logical volume cannot be read')),
  };
}

/** The volume `[N:]` names: a partition number, an LV name (or vg/lv), or the whole disk when `id` is ''. */
export function findVolume(layout: DiskLayout, id: string): Volume {
  const v = layout.volumes.find((x) => x.id === id || (x.vg !== undefined && `${x.vg}/${x.id}` === id));
  if (v) return v;
  if (id === '' && layout.volumes.length) {
    throw new GuestFsError('not-found', `the disk has ${layout.volumes.length} volumes; name one as N:/path (${layout.volumes.map((x) => x.id).join(', ')})`);
  }
  throw new GuestFsError('not-found', `no partition or logical volume '${id}'`);
}

export type { ContentType };
