/**
 * A repair that crashes part-way must not make the image worse: power is cut after each write in turn
 * (keeping, or losing, the writes not yet synced), and the image left behind must have no more corruptions
 * than before the repair, no check errors, and the same guest data.
 */
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { qemuImg, scratchDir } from '../helpers/qemu';
import { Layout, qemuCheck } from './check-fixtures';
import { CORRUPT_CASES } from './check-corrupt-cases';
import { MemIo } from '../../src/qcow2/io/memory';
import { devForCheck } from '../../src/qcow2/check/open-for-check';
import { checkImage } from '../../src/qcow2/check/check';

class PowerCut extends Error {}

/** MemIo that loses power after `limit` writes; with `loseUnsynced`, writes since the last fsync vanish. */
class CrashIo extends MemIo {
  writes = 0;
  private undo: { offset: number; old: Uint8Array }[] = [];
  private lengthAtSync = 0;
  constructor(
    bytes: Uint8Array,
    private readonly limit: number,
    private readonly loseUnsynced: boolean,
  ) {
    super(bytes, 'crash.qcow2', false);
    this.lengthAtSync = bytes.length;
  }

  override async writeAt(buf: Uint8Array, offset: number): Promise<void> {
    if (this.writes >= this.limit) throw new PowerCut('power cut');
    this.writes++;
    const old = new Uint8Array(buf.length);
    await this.readAt(old, offset);
    this.undo.push({ offset, old });
    await super.writeAt(buf, offset);
  }

  override async fsync(): Promise<void> {
    if (this.writes >= this.limit) throw new PowerCut('power cut');
    this.undo = [];
    this.lengthAtSync = await this.size();
  }

  /** The disk as found after the power cut. */
  async afterCrash(): Promise<Uint8Array> {
    if (this.loseUnsynced) {
      for (const u of this.undo.reverse()) await super.writeAt(u.old, u.offset);
      await this.truncate(this.lengthAtSync);
    }
    return this.bytes();
  }
}

const PICKED = [
  'leak and corruption together',
  'refcount block referenced as data',
  'snapshot table: v3 entry with too little extra data',
  'COPIED missing in an L2 entry',
  'reserved bits set in a refcount table entry',
];

describe('check: a crashing repair never makes the image worse', function () {
  this.timeout(120_000);
  const dir = scratchDir('q2i-check-crash-');
  after(() => dir.cleanup());

  for (const name of PICKED) {
    it(name, async () => {
      const c = CORRUPT_CASES.find((x) => x.name === name)!;
      const before = dir.path('before.qcow2');
      c.make(before);
      c.corrupt(new Layout(before), before);
      const initial = qemuCheck(before);
      const initialCorruptions = Number(initial.json?.corruptions ?? 0);
      const image = new Uint8Array(readFileSync(before));

      // Count the writes of a full repair.
      const full = new CrashIo(image, Infinity, false);
      await checkImage(await devForCheck(full, false), { repair: 'all' });
      assert.ok(full.writes > 0);
      writeFileSync(dir.path('full.qcow2'), full.bytes());
      const fullCode = qemuCheck(dir.path('full.qcow2')).code;

      const out = dir.path('after.qcow2');
      for (let k = 0; k < full.writes; k++) {
        for (const lose of [false, true]) {
          const io = new CrashIo(image, k, lose);
          await assert.rejects(checkImage(await devForCheck(io, false), { repair: 'all' }), PowerCut);
          writeFileSync(out, await io.afterCrash());
          const q = qemuCheck(out);
          const label = `crash after write ${k}/${full.writes}${lose ? ', unsynced writes lost' : ''}: ${JSON.stringify(q.json)} ${q.stderr}`;
          assert.ok(q.json, label);
          assert.equal(q.json['check-errors'], 0, label);
          assert.ok(Number(q.json.corruptions ?? 0) <= initialCorruptions, label);
          assert.equal(qemuImg(['compare', '-q', before, out], true).code, 0, `guest data changed: ${label}`);
          // And repairing again after the crash ends as well as an uninterrupted repair.
          const again = new MemIo(new Uint8Array(readFileSync(out)), 'again.qcow2', false);
          await checkImage(await devForCheck(again, false), { repair: 'all' });
          writeFileSync(dir.path('again.qcow2'), again.bytes());
          assert.equal(qemuCheck(dir.path('again.qcow2')).code, fullCode, `repair after the crash: ${label}`);
        }
      }
    });
  }
});
