/**
 * Power cuts during the iotest 261 repairs that cut or rewrite an overhanging snapshot table ("table too big",
 * "too many snapshots", "too much unknown extra data"). Those images are up to 68 MB, so unlike
 * check-repair-crash.test.ts each image is built once and every cut replays the repair on ONE shared buffer
 * whose writes are logged and undone afterwards (no per-cut copy). Power is cut before each write of the
 * repair in turn, keeping or losing the unsynced writes. Each state left behind is checked by OUR check in
 * process (no check errors, corruptions never above before, or the same refusal as before) with the guest
 * bytes read back equal to before, and a re-repair must end as the uninterrupted repair did. qemu-img check
 * runs only on a sample of the states (the first and last cut, and every third in between), and on the
 * 65536-snapshot image only on the untouched one: qemu-img needs ~15 s per open of that image. The repair is
 * deterministic, so a cut that leaves the same writes as an earlier one (same count kept) is not re-checked.
 */
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { qemuIo, scratchDir } from '../helpers/qemu';
import { qemuCheck } from './check-fixtures';
import { tableTooBig, tooManySnapshots, tooMuchExtraData } from './iotests-261-images';
import type { Qcow2IoOps } from '../../src/qcow2/io/ops';
import { devForCheck } from '../../src/qcow2/check/open-for-check';
import { checkImage, type CheckResultEx } from '../../src/qcow2/check/check';
import { Qcow2Dev } from '../../src/qcow2/qcow2-dev';

class PowerCut extends Error {}

/** One file in memory that every cut shares; each change is logged so that `rollback` puts it back. */
class SharedDisk {
  private data: Uint8Array;
  private log: { offset: number; old: Uint8Array; length: number }[] = [];
  length: number;

  constructor(initial: Uint8Array) {
    this.data = new Uint8Array(initial.length + (1 << 20));
    this.data.set(initial);
    this.length = initial.length;
  }

  read(buf: Uint8Array, offset: number): number {
    if (offset >= this.length) return 0;
    const n = Math.min(buf.length, this.length - offset);
    buf.set(this.data.subarray(offset, offset + n));
    return n;
  }

  /** Bytes past `length` are always zero, so growing needs no fill. */
  write(buf: Uint8Array, offset: number): void {
    this.log.push({ offset, old: this.data.slice(offset, Math.min(offset + buf.length, this.length)), length: this.length });
    const end = offset + buf.length;
    if (end > this.data.length) {
      const grown = new Uint8Array(Math.max(end, this.data.length * 2));
      grown.set(this.data.subarray(0, this.length));
      this.data = grown;
    }
    this.data.set(buf, offset);
    this.length = Math.max(this.length, end);
  }

  truncate(size: number): void {
    this.log.push({ offset: size, old: this.data.slice(size, this.length), length: this.length });
    if (size < this.length) this.data.fill(0, size, this.length);
    else if (size > this.data.length) this.write(new Uint8Array(0), size);
    this.length = size;
  }

  mark(): number {
    return this.log.length;
  }

  rollback(to: number): void {
    while (this.log.length > to) {
      const u = this.log.pop()!;
      if (this.length > u.length) this.data.fill(0, u.length, this.length);
      this.data.set(u.old, u.offset);
      this.length = u.length;
    }
  }

  bytes(): Uint8Array {
    return this.data.subarray(0, this.length);
  }
}

/** The shared disk as one open file that loses power before write number `limit`. */
class CutIo implements Qcow2IoOps {
  readonly path = 'crash.qcow2';
  writes = 0;
  /** Writes counted up to the last completed fsync. */
  syncedWrites = 0;
  private syncMark: number;

  constructor(
    private readonly disk: SharedDisk,
    readonly readOnly: boolean,
    private readonly limit = Infinity,
  ) {
    this.syncMark = disk.mark();
  }

  async readAt(buf: Uint8Array, offset: number): Promise<number> {
    return this.disk.read(buf, offset);
  }

  async writeAt(buf: Uint8Array, offset: number): Promise<void> {
    assert.ok(!this.readOnly, 'write through a read-only view');
    if (this.writes >= this.limit) throw new PowerCut('power cut');
    this.writes++;
    this.disk.write(buf, offset);
  }

  async fsync(): Promise<void> {
    if (this.writes >= this.limit) throw new PowerCut('power cut');
    this.syncMark = this.disk.mark();
    this.syncedWrites = this.writes;
  }

  async size(): Promise<number> {
    return this.disk.length;
  }

  async truncate(size: number): Promise<void> {
    this.disk.truncate(size);
  }

  async close(): Promise<void> {}

  /** The disk as found after the power cut; returns how many of the repair's writes it keeps. */
  afterCrash(loseUnsynced: boolean): number {
    if (!loseUnsynced) return this.writes;
    this.disk.rollback(this.syncMark);
    return this.syncedWrites;
  }
}

const MiB = 1 << 20;
const fill = (p: string): void => void qemuIo(p, ['write -P 0x5a 0 64k', 'write -P 0xa5 10M 64k']);
/** The guest range the fill touches (and zeros around it), read back after every cut. */
const USED = 11 * MiB;
const expectedGuest = (): Uint8Array => {
  const g = new Uint8Array(USED);
  g.fill(0x5a, 0, 65536);
  g.fill(0xa5, 10 * MiB, 10 * MiB + 65536);
  return g;
};

const ourCheck = async (disk: SharedDisk, repair = false): Promise<CheckResultEx> =>
  checkImage(await devForCheck(new CutIo(disk, !repair), !repair), repair ? { repair: 'all' } : {});

/** The guest bytes of USED through the normal open, or the reason the image does not open. */
async function guest(disk: SharedDisk): Promise<Uint8Array | string> {
  try {
    const dev = await Qcow2Dev.fromIo(new CutIo(disk, true), { readOnly: true });
    await dev.prepIo();
    const buf = new Uint8Array(USED);
    await dev.readAt(buf, 0);
    return buf;
  } catch (err) {
    return (err as Error).message;
  }
}

const CASES: { name: string; build(p: string): void; qemuOnlyUntouched?: boolean }[] = [
  { name: 'iotest 261: snapshot table too big (over 64 MiB)', build: (p) => void tableTooBig(p, fill) },
  { name: 'iotest 261: too many snapshots (131072 entries)', build: (p) => tooManySnapshots(p, fill), qemuOnlyUntouched: true },
  { name: 'iotest 261: too much unknown extra data', build: (p) => tooMuchExtraData(p, fill) },
];

describe('check: a crashing repair of an overhanging snapshot table never makes the image worse', function () {
  this.timeout(120_000);
  const dir = scratchDir('q2i-check-crash-261-');
  after(() => dir.cleanup());
  const want = expectedGuest();

  for (const c of CASES) {
    it(c.name, async () => {
      const src = dir.path('before.qcow2');
      c.build(src);
      const disk = new SharedDisk(new Uint8Array(readFileSync(src)));
      const initial = await ourCheck(disk);
      const initialQemu = qemuCheck(src);
      // qemu-img and we refuse the damaged image: any check that runs afterwards is an improvement.
      assert.ok(initial.failure, 'the damaged image is refused');
      assert.equal(initialQemu.json, undefined, initialQemu.stderr);

      // The uninterrupted repair, then the disk is put back.
      const full = new CutIo(disk, false);
      await checkImage(await devForCheck(full, false), { repair: 'all' });
      assert.ok(full.writes > 0);
      const fullCheck = await ourCheck(disk);
      assert.equal(fullCheck.exitCode, 0, JSON.stringify(fullCheck.summary));
      assert.deepEqual(await guest(disk), want, 'guest data after the full repair');
      disk.rollback(0);

      const seen = new Set<number>();
      const out = dir.path('after.qcow2');
      for (let k = 0; k < full.writes; k++) {
        for (const lose of [false, true]) {
          const io = new CutIo(disk, false, k);
          await assert.rejects(checkImage(await devForCheck(io, false), { repair: 'all' }), PowerCut);
          const kept = io.afterCrash(lose);
          const label = `crash before write ${k + 1}/${full.writes}${lose ? ', unsynced writes lost' : ''} (${kept} kept)`;
          if (!seen.has(kept)) {
            seen.add(kept);
            const mark = disk.mark();
            const r = await ourCheck(disk);
            if (r.failure) assert.equal(r.failure, initial.failure, `${label}: a different refusal`);
            else {
              // Before, the image was refused (any count is an improvement); these repairs leave at worst leaks.
              assert.equal(r.summary.checkErrors, 0, `${label}: ${JSON.stringify(r.summary)}`);
              assert.equal(r.summary.corruptions, 0, `${label}: ${JSON.stringify(r.summary)}`);
              assert.deepEqual(await guest(disk), want, `guest data changed: ${label}`);
            }
            const sampled = c.qemuOnlyUntouched ? kept === 0 : k === 0 || k === full.writes - 1 || k % 3 === 0;
            if (sampled) {
              writeFileSync(out, disk.bytes());
              const q = qemuCheck(out);
              if (q.json) assert.deepEqual([q.json['check-errors'], q.json.corruptions ?? 0], [0, 0], `${label}: qemu-img ${JSON.stringify(q.json)}`);
              else assert.equal(q.stderr, initialQemu.stderr, `${label}: qemu-img refuses it otherwise than before`);
            }
            // Repairing again ends as the uninterrupted repair did (untouched: that is the full repair itself).
            if (kept > 0) {
              await ourCheck(disk, true);
              const again = await ourCheck(disk);
              assert.deepEqual({ ...again.summary, leaksFixed: 0, corruptionsFixed: 0 }, fullCheck.summary, `re-repair after the crash: ${label}`);
              assert.deepEqual(await guest(disk), want, `guest data after re-repair: ${label}`);
            }
            disk.rollback(mark);
          }
          disk.rollback(0);
        }
      }
      // Every write was a cut point (kept and lost): the untouched image and the last write's state were among them.
      assert.ok(seen.has(0) && seen.has(full.writes - 1), `states checked: ${[...seen].join(',')}`);
    });
  }
});
