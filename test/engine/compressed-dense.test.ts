/**
 * Densely packed compressed clusters: `qemu-img convert -c` of highly compressible data packs several clusters'
 * compressed streams into one 512-byte sector, so the sector-rounded bytes of a cluster end with the start (or the
 * whole frame) of the next one. Reads must decode exactly the cluster's own stream (issue #18: Node >= 22.15's
 * native zstd was handed the next cluster's frame too and failed). `npm test` runs this under Node 20 and Node 24.
 */
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { openImage } from '../../src/qcow2';
import { qemuImg, scratchDir } from '../helpers/qemu';

/** Highly compressible, but different in every cluster (so that no two clusters are equal, and none is zero). */
function compressibleData(size: number, clusterSize: number): Buffer {
  const buf = Buffer.alloc(size);
  for (let c = 0; c * clusterSize < size; c++) {
    const line = Buffer.from(`cluster ${c} of a densely packed image; `);
    for (let p = c * clusterSize; p < Math.min(size, (c + 1) * clusterSize); p += line.length) line.copy(buf, p, 0, Math.min(line.length, size - p));
  }
  return buf;
}

const kinds = [
  { type: 'zstd', clusterSize: 64 * 1024, size: 16 << 20 },
  { type: 'zstd', clusterSize: 2 << 20, size: 64 << 20 },
  { type: 'zlib', clusterSize: 64 * 1024, size: 16 << 20 },
  { type: 'zlib', clusterSize: 2 << 20, size: 64 << 20 },
];

describe(`densely packed compressed clusters (node ${process.version})`, () => {
  for (const k of kinds) {
    it(`${k.type}, ${k.clusterSize / 1024} KiB clusters: byte-identical to qemu-img convert, clusters sharing sectors`, async function () {
      this.timeout(120_000);
      const tmp = scratchDir('q2i-dense-');
      try {
        const src = tmp.path('src.raw');
        writeFileSync(src, compressibleData(k.size, k.clusterSize));
        const img = tmp.path('dense.qcow2');
        qemuImg(['convert', '-q', '-c', '-O', 'qcow2', '-o', `compression_type=${k.type},cluster_size=${k.clusterSize}`, src, img]);
        qemuImg(['convert', '-q', '-O', 'raw', img, tmp.path('ref.raw')]);
        const ref = readFileSync(tmp.path('ref.raw'));
        assert.ok(ref.equals(readFileSync(src)), 'qemu-img reads back what it wrote');

        const dev = await openImage(img, { readOnly: true });
        try {
          // The fixture is what it claims: every cluster compressed, and streams that share a sector.
          let shared = 0;
          let prev: { offset: number; length: number } | undefined;
          for (let g = 0; g < k.size; g += k.clusterSize) {
            const m = await dev.getMapping(g);
            assert.equal(m.kind, 'compressed', `cluster at ${g}`);
            const c = m.compressed!;
            if (prev && c.offset < prev.offset + prev.length) shared++;
            prev = c;
          }
          assert.ok(shared > 0, "some compressed clusters start inside the previous one's last sector");

          const buf = new Uint8Array(k.size);
          await dev.readAt(buf, 0);
          assert.ok(Buffer.from(buf).equals(ref), 'guest bytes equal qemu-img convert');
        } finally {
          await dev.close();
        }
      } finally {
        tmp.cleanup();
      }
    });
  }
});
