/**
 * A repair that crashes part-way must not make the image worse: power is cut after each write in turn
 * (keeping, or losing, the writes not yet synced), and the image left behind must have no more corruptions
 * than before the repair, no check errors, and the same guest data.
 */
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { Layout, qemuCheck } from './check-fixtures';
import { CORRUPT_CASES } from './check-corrupt-cases';
import { qemuIoCrash, setFeatureBit } from './iotests-support';
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
  'COPIED set on a shared (snapshot) cluster',
  'reserved bits set in a refcount table entry',
];

/** Repairs that clear bits (header corrupt/dirty bits, COPIED flags) or cut the snapshot table (issue #19 cases). */
const BIT_CASES: { name: string; make(path: string): void }[] = [
  {
    name: 'iotest 060: corrupt bit and a zero refcount (rebuild, then the corrupt bit is cleared)',
    make: (p) => {
      basicImage(p);
      const l = new Layout(p);
      l.setRefcount(l.refblockOffset() / l.cs, 0);
      l.p.setU64(72, 2n);
    },
  },
  {
    name: 'iotest 060: dirty and corrupt bits, refcount of cluster 0 zero',
    make: (p) => {
      basicImage(p);
      new Layout(p).setRefcount(0, 0);
      new Layout(p).p.setU64(72, 3n);
    },
  },
  {
    name: 'L2 table past the end of the file (COPIED cleared in the L1 entry)',
    make: (p) => {
      basicImage(p);
      const l = new Layout(p);
      l.setL1Entry(0, (1n << 63n) | BigInt(256 * 1024 * 1024));
    },
  },
  {
    name: 'iotest 261: too much extra data in a snapshot entry (truncated, table rewritten after a rebuild)',
    make: (p) => {
      basicImage(p);
      qemuImg(['snapshot', '-c', 's1', p]);
      qemuImg(['snapshot', '-c', 's2', p]);
      const l = new Layout(p);
      const first = l.snapshotsOffset;
      const len = Math.ceil((40 + l.p.u32(first + 36) + l.p.u16(first + 12) + l.p.u16(first + 14)) / 8) * 8;
      l.p.setU32(first + len + 36, 0x10000);
    },
  },
  {
    name: 'iotest 039: killed lazy-refcounts writer (dirty) and an unknown autoclear bit (bit cleared, rebuild, dirty bit cleared)',
    make: (p) => {
      qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'compat=1.1,lazy_refcounts=on', p, '64M']);
      qemuIoCrash(p, ['write -P 0x5a 0 512', 'write -P 0xa5 10M 64k']);
      setFeatureBit(p, 'autoclear', 63);
    },
  },
];

function basicImage(p: string): void {
  qemuImg(['create', '-q', '-f', 'qcow2', p, '64M']);
  qemuIo(p, ['write -P 0x5a 0 1M', 'write -P 0xa5 10M 64k']);
}

const corruptBit = (path: string): boolean => (readFileSync(path).readUInt8(79) & 2) !== 0;
const dirtyBit = (path: string): boolean => (readFileSync(path).readUInt8(79) & 1) !== 0;

describe('check: a crashing repair never makes the image worse', function () {
  this.timeout(120_000);
  const dir = scratchDir('q2i-check-crash-');
  after(() => dir.cleanup());

  const cases = [
    ...PICKED.map((name) => {
      const c = CORRUPT_CASES.find((x) => x.name === name)!;
      return { name, make: (p: string) => (c.make(p), c.corrupt(new Layout(p), p)) };
    }),
    ...BIT_CASES,
  ];
  for (const { name, make } of cases) {
    it(name, async () => {
      const before = dir.path('before.qcow2');
      make(before);
      const initialCorruptBit = corruptBit(before);
      const initialDirtyBit = dirtyBit(before);
      const initial = qemuCheck(before);
      // Without JSON, qemu-img cannot check it at all (iotest 261's cases): any count is then an improvement.
      const initialCorruptions = initial.json ? Number(initial.json.corruptions ?? 0) : Infinity;
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
          if (!initial.json && !q.json) {
            // qemu-img cannot check the damaged image (it needs -r all): the crash left it as it was, no worse.
            assert.equal(q.stderr, initial.stderr, label);
          } else {
            assert.ok(q.json, label);
            assert.equal(q.json['check-errors'], 0, label);
            assert.ok(Number(q.json.corruptions ?? 0) <= initialCorruptions, label);
            // A bit is cleared only once what it guards is true: never a clean-marked header on a corrupt image.
            if (initialCorruptBit && !corruptBit(out)) assert.equal(q.json.corruptions ?? 0, 0, `corrupt bit cleared too early: ${label}`);
            if (initialDirtyBit && !dirtyBit(out)) assert.equal(q.json.corruptions ?? 0, 0, `dirty bit cleared too early: ${label}`);
            if (initial.json) assert.equal(qemuImg(['compare', '-q', before, out], true).code, 0, `guest data changed: ${label}`);
          }
          // And repairing again after the crash ends as well as an uninterrupted repair, with the same guest data.
          const again = new MemIo(new Uint8Array(readFileSync(out)), 'again.qcow2', false);
          await checkImage(await devForCheck(again, false), { repair: 'all' });
          writeFileSync(dir.path('again.qcow2'), again.bytes());
          assert.equal(qemuCheck(dir.path('again.qcow2')).code, fullCode, `repair after the crash: ${label}`);
          assert.equal(qemuImg(['compare', '-q', dir.path('full.qcow2'), dir.path('again.qcow2')], true).code, 0, `guest data after re-repair: ${label}`);
        }
      }
    });
  }
});
