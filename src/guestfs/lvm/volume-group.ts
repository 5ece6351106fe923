/**
 * Logical volumes from the PVs found on a disk: the newest metadata (highest seqno) per VG, and each linear
 * ("striped" with one stripe) LV as an LvDevice. Other segment types (raid, thin, mirrors, multi-stripe) are
 * listed as unsupported rather than guessed at.
 */
import { GuestFsError, type ReadOnlyDevice } from '../types';
import { LvDevice, type LvSegment } from './lv-device';
import type { PhysicalVolume } from './pv';
import { parseLvmText, type LvmSection, type LvmValue } from './text';

export interface LogicalVolume {
  vg: string;
  name: string;
  size: number;
  /** The LV as a device, or why it cannot be read. */
  device?: ReadOnlyDevice;
  problem?: string;
}

const MAX_SEGMENTS = 4096;
const SECTOR = 512;

const isSection = (v: LvmValue | undefined): v is LvmSection => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: LvmValue | undefined, what: string): number => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new GuestFsError('bad-fs', `LVM metadata: ${what} is not a count`);
  return v;
};

export function logicalVolumes(pvs: PhysicalVolume[]): LogicalVolume[] {
  const byUuid = new Map(pvs.map((p) => [p.uuid, p]));
  const newest = new Map<string, { seqno: number; vg: LvmSection }>();
  for (const pv of pvs) {
    if (!pv.metadata) continue;
    const top = parseLvmText(pv.metadata);
    for (const [name, vg] of Object.entries(top)) {
      if (!isSection(vg)) continue;
      const seqno = typeof vg.seqno === 'number' ? vg.seqno : 0;
      if ((newest.get(name)?.seqno ?? -1) < seqno) newest.set(name, { seqno, vg });
    }
  }
  const out: LogicalVolume[] = [];
  for (const [vgName, { vg }] of newest) {
    const extentBytes = num(vg.extent_size, 'extent_size') * SECTOR;
    if (!extentBytes) throw new GuestFsError('bad-fs', `LVM VG ${vgName}: extent size 0`);
    const pvSecs = isSection(vg.physical_volumes) ? vg.physical_volumes : {};
    const lvs = isSection(vg.logical_volumes) ? vg.logical_volumes : {};
    for (const [lvName, lv] of Object.entries(lvs)) {
      if (!isSection(lv)) continue;
      try {
        out.push(buildLv(vgName, lvName, lv, pvSecs, byUuid, extentBytes));
      } catch (err) {
        if (!(err instanceof GuestFsError)) throw err;
        out.push({ vg: vgName, name: lvName, size: 0, problem: err.message });
      }
    }
  }
  return out;
}

function buildLv(vgName: string, lvName: string, lv: LvmSection, pvSecs: LvmSection, byUuid: Map<string, PhysicalVolume>, extentBytes: number): LogicalVolume {
  const segs: LvSegment[] = [];
  const count = num(lv.segment_count, 'segment_count');
  if (count > MAX_SEGMENTS) throw new GuestFsError('too-large', `LV ${vgName}/${lvName} has ${count} segments`);
  for (let i = 1; i <= count; i++) {
    const seg = lv[`segment${i}`];
    if (!isSection(seg)) throw new GuestFsError('bad-fs', `LV ${vgName}/${lvName}: segment${i} is missing`);
    const type = seg.type;
    const stripes = seg.stripes;
    if (type !== 'striped' || seg.stripe_count !== 1 || !Array.isArray(stripes) || stripes.length !== 2) {
      throw new GuestFsError('unsupported', `LV ${vgName}/${lvName}: segment type ${String(type)} is not linear`);
    }
    const pvSec = pvSecs[String(stripes[0])];
    if (!isSection(pvSec)) throw new GuestFsError('bad-fs', `LV ${vgName}/${lvName}: PV ${String(stripes[0])} is not in the VG`);
    const pv = byUuid.get(String(pvSec.id));
    if (!pv) throw new GuestFsError('not-found', `LV ${vgName}/${lvName}: PV ${String(pvSec.id)} is not on this disk`);
    const start = num(seg.start_extent, 'start_extent') * extentBytes;
    const length = num(seg.extent_count, 'extent_count') * extentBytes;
    const pvOffset = num(pvSec.pe_start, 'pe_start') * SECTOR + num(stripes[1], 'stripe start') * extentBytes;
    if (pvOffset + length > pv.device.size) throw new GuestFsError('bad-fs', `LV ${vgName}/${lvName}: segment ${i} runs past the end of its PV`);
    const expected = segs.length ? segs[segs.length - 1].start + segs[segs.length - 1].length : 0;
    if (start !== expected) throw new GuestFsError('bad-fs', `LV ${vgName}/${lvName}: segment ${i} does not follow the previous one`);
    segs.push({ start, length, pv: pv.device, pvOffset });
  }
  const device = new LvDevice(segs);
  return { vg: vgName, name: lvName, size: device.size, device };
}
