/**
 * zstd frame parsing used to feed fzstd (Node 20 has no zstd): declared content sizes, and whole-cluster
 * decompression of a QEMU-written zstd image against qemu-img.
 */
import { strict as assert } from 'node:assert';
import { readFileSync } from 'node:fs';
import { openImage } from '../../src/qcow2';
import { zstdContentSize } from '../../src/qcow2/read/compress';
import { qemuImg, scratchDir } from '../helpers/qemu';
import { makeQcow2 } from '../helpers/images';

const frame = (fhd: number, ...rest: number[]) => Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, fhd, ...rest]);

describe('zstd frames', () => {
  it('reads the declared content size for every field width', () => {
    assert.equal(zstdContentSize(frame(0x20, 200)), 200); // single segment, 1-byte size
    assert.equal(zstdContentSize(frame(0x60, 0x00, 0xff)), 0xff00 + 256); // 2 bytes, +256 as the format says
    assert.equal(zstdContentSize(frame(0xa0, 0x00, 0x00, 0x01, 0x00)), 65536); // 4 bytes
    assert.equal(zstdContentSize(frame(0x80, 0x58, 0x00, 0x00, 0x01, 0x00)), 65536); // window byte, then 4 bytes
    assert.equal(zstdContentSize(frame(0x61, 0x07, 0x00, 0x01)), 256 + 256); // 1-byte dictionary id first
  });

  it('says "no size" when the header declares none or is cut short', () => {
    assert.equal(zstdContentSize(frame(0x00, 0x58)), undefined);
    assert.equal(zstdContentSize(frame(0xe0, 1, 2)), undefined);
    assert.equal(zstdContentSize(Uint8Array.from([0x28, 0xb5])), undefined);
  });

  it('a zstd image made by qemu-img reads back byte for byte', async function () {
    this.timeout(60_000);
    const tmp = scratchDir('q2i-zstd-');
    try {
      const img = makeQcow2(tmp.path('z.qcow2'), { size: '4M', o: { compression_type: 'zstd' } }, [
        'write -c -P 0x11 0 1M',
        'write -c -P 0x5a 1M 64k',
        'write -c -P 0 2M 128k',
      ]);
      qemuImg(['convert', '-O', 'raw', img, tmp.path('z.raw')]);
      const ref = readFileSync(tmp.path('z.raw'));
      const dev = await openImage(img, { readOnly: true });
      try {
        const buf = new Uint8Array(ref.length);
        await dev.readAt(buf, 0);
        assert.ok(Buffer.from(buf).equals(ref));
      } finally {
        await dev.close();
      }
    } finally {
      tmp.cleanup();
    }
  });
});
