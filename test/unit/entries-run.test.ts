/** standardRunEnd: the masked-word scan that block status and map use for standard L2 entries. */
import { strict as assert } from 'node:assert';
import { standardRunEnd, standardWords } from '../../src/qcow2/format/entries';

const CS = 65536;

/** An L2 table of `n` entries; entry i gets `at(i)` as [hi, lo] words. */
function table(n: number, at: (i: number) => [number, number]): Uint8Array {
  const t = new Uint8Array(n * 8);
  const v = new DataView(t.buffer);
  for (let i = 0; i < n; i++) {
    const [hi, lo] = at(i);
    v.setUint32(i * 8, hi >>> 0);
    v.setUint32(i * 8 + 4, lo >>> 0);
  }
  return t;
}

const words = (off: number, zero = false, copied = true): [number, number] => standardWords(off, copied, zero);

describe('standardRunEnd', () => {
  it('follows contiguous host offsets across the 4 GiB boundary of the low word, ignoring COPIED', () => {
    const base = 2 ** 32 - 4 * CS; // four clusters below 4 GiB, then above
    const t = table(16, (i) => words(base + i * CS, false, i % 3 !== 0));
    assert.equal(standardRunEnd(t, 1, 16, base + CS, CS, 0, 1), 16);
    // A gap stops the run exactly there.
    const gap = table(16, (i) => words(base + (i < 9 ? i : i + 1) * CS));
    assert.equal(standardRunEnd(gap, 1, 16, base + CS, CS, 0, 1), 9);
  });

  it('offsets far above 4 GiB (hi word > 0) and near 2^53 work', () => {
    const base = 2 ** 52 + 7 * 2 ** 32 - 2 * CS;
    const t = table(8, (i) => words(base + i * CS));
    assert.equal(standardRunEnd(t, 0, 8, base, CS, 0, 1), 8);
    assert.equal(standardRunEnd(t, 0, 8, base + CS, CS, 0, 1), 0); // wrong start: no match
  });

  it('stops at a compressed entry, a changed zero flag, and respects `end`', () => {
    const t = table(8, (i) => (i === 5 ? [0x40000000 | 0x10, 0] : words(CS * (10 + i), i >= 3)));
    assert.equal(standardRunEnd(t, 0, 8, CS * 10, CS, 0, 1), 3); // entry 3 sets the zero flag
    assert.equal(standardRunEnd(t, 3, 8, CS * 13, CS, 1, 1), 5); // zero run ends at the compressed entry
    assert.equal(standardRunEnd(t, 0, 2, CS * 10, CS, 0, 1), 2);
    // v2 images (zeroMask 0) ignore bit 0.
    assert.equal(standardRunEnd(t, 0, 5, CS * 10, CS, 0, 0), 5);
  });

  it('step 0 matches repeated unallocated (or zero, host-less) entries', () => {
    const t = table(10, (i) => (i < 6 ? [0, 0] : [0, 1]));
    assert.equal(standardRunEnd(t, 0, 10, 0, 0, 0, 1), 6);
    assert.equal(standardRunEnd(t, 6, 10, 0, 0, 1, 1), 10);
  });

  it('accepts fractional-looking arguments computed as doubles', () => {
    const t = table(4, (i) => words(CS * (1 + i)));
    assert.equal(standardRunEnd(t, Math.ceil(0.5) - 1, Math.ceil(3.5), CS, CS, 0, 1), 4);
  });
});
