/**
 * Property test with shrinking: random write sequences on small in-memory images (over a backing file, with
 * compressed clusters and a snapshot) must read back as the model and pass qemu-img check with no leaks.
 * fast-check shrinks a failure to a minimal sequence of writes.
 */
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { openImage } from '../../src/qcow2/open';
import { MemIo } from '../../src/qcow2/io/memory';
import { NodeFileIo } from '../../src/qcow2/io/node';
import { seededRandom } from '../../src/qcow2/io/fault';
import { qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { LONG, qemuCheck } from '../helpers/workload';

const SIZE = 1 << 20;

describe('write sequences, property-based (fast-check, shrinking)', function () {
  this.timeout(LONG ? 1_800_000 : 180_000);
  const tmp = scratchDir('q2i-wprop-');
  after(() => tmp.cleanup());

  const images: Record<string, { path: string; bytes: Uint8Array; raw: Uint8Array }> = {};
  before(() => {
    // Over a raw backing file, 4 KiB clusters, extended L2 off; and compressed + snapshot, 16 KiB clusters with extended L2.
    const base = tmp.path('base.raw');
    const r = seededRandom(5);
    const b = new Uint8Array(SIZE);
    for (let i = 0; i < SIZE; i++) b[i] = (r() * 256) | 0;
    writeFileSync(base, b);
    const top = tmp.path('top.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4k', '-b', base, '-F', 'raw', top, String(SIZE)]);
    qemuIo(top, ['write -q -P 7 8k 8k', 'write -q -z 64k 4k']);
    const comp = tmp.path('comp.qcow2');
    qemuImg(['convert', '-c', '-f', 'raw', '-O', 'qcow2', '-o', 'cluster_size=16k', base, comp]);
    qemuImg(['snapshot', '-c', 's', comp]);
    const xl2 = tmp.path('xl2.qcow2');
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=16k,extended_l2=on', '-b', base, '-F', 'raw', xl2, String(SIZE)]);
    for (const [k, p] of [
      ['backing', top],
      ['compressed+snapshot', comp],
      ['extended-l2', xl2],
    ] as const) {
      qemuImg(['convert', '-O', 'raw', p, tmp.path(`${k}.raw`)]);
      images[k] = { path: p, bytes: new Uint8Array(readFileSync(p)), raw: new Uint8Array(readFileSync(tmp.path(`${k}.raw`))) };
    }
  });

  const arbOp = fc.record({
    offset: fc.oneof(
      fc.integer({ min: 0, max: SIZE - 1 }),
      fc.integer({ min: 0, max: 255 }).map((c) => c * 4096 - 1),
    ),
    length: fc.oneof(fc.integer({ min: 1, max: 600 }), fc.integer({ min: 1, max: 40_000 })),
    fill: fc.integer({ min: 0, max: 255 }),
    flush: fc.boolean(),
  });

  for (const kind of ['backing', 'compressed+snapshot', 'extended-l2']) {
    it(`${kind}: any write sequence reads back and checks clean`, async () => {
      const img = images[kind];
      await fc.assert(
        fc.asyncProperty(fc.array(arbOp, { minLength: 1, maxLength: 25 }), async (ops) => {
          const mem = new MemIo(img.bytes, img.path);
          const model = img.raw.slice();
          const dev = await openImage(img.path, {
            readOnly: false,
            l2CacheSlices: 1,
            refblockCacheSlices: 1,
            openIo: (p) => (p === img.path ? Promise.resolve(mem) : NodeFileIo.open(p, true)),
          });
          try {
            for (const op of ops) {
              const offset = Math.max(0, Math.min(op.offset, SIZE - 1));
              const length = Math.min(op.length, SIZE - offset);
              const data = new Uint8Array(length);
              for (let i = 0; i < length; i++) data[i] = (op.fill + i) & 0xff;
              await dev.writeAt(data, offset);
              model.set(data, offset);
              if (op.flush) await dev.flushMeta();
            }
            const got = new Uint8Array(SIZE);
            await dev.readAt(got, 0);
            assert.ok(Buffer.from(got).equals(Buffer.from(model)), 'engine read-back differs from the model');
            await dev.fsyncRange(0, SIZE);
          } finally {
            await dev.close();
          }
          const out = tmp.path(`prop-${kind.replace(/\W/g, '')}.qcow2`);
          writeFileSync(out, mem.bytes());
          const chk = qemuCheck(out);
          assert.equal(chk.code, 0, chk.raw);
          qemuImg(['convert', '-O', 'raw', out, `${out}.raw`]);
          assert.ok(readFileSync(`${out}.raw`).equals(Buffer.from(model)), 'qemu-img reads something else');
          if (kind === 'compressed+snapshot') {
            qemuImg(['convert', '-l', 'snapshot.name=s', '-O', 'raw', out, `${out}.snap.raw`]);
            assert.ok(readFileSync(`${out}.snap.raw`).equals(Buffer.from(img.raw)), 'the snapshot changed');
          }
        }),
        { numRuns: LONG ? 300 : 25, seed: Number(process.env.Q2I_SEED ?? 424242) },
      );
    });
  }
});
