/** 64-bit refcounts stepped byte by byte stay exact where a number cannot hold them (iotest 112's values). */
import { strict as assert } from 'node:assert';
import { getRefcount, stepRefcount64 } from '../../src/qcow2/format/refcount-codec';

const at = (block: Uint8Array, i: number): bigint => new DataView(block.buffer).getBigUint64(i * 8);
const put = (block: Uint8Array, i: number, v: bigint): void => new DataView(block.buffer).setBigUint64(i * 8, v);

describe('stepRefcount64', () => {
  it('adds and subtracts with carries and borrows across bytes, exactly as 64-bit integers', () => {
    const block = new Uint8Array(8 * 4);
    let seed = 12345;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) >>> 0);
    const values = [0n, 1n, 0xffn, 0x100n, 0xffffffffn, 1n << 53n, (1n << 63n) - 1n, 1n << 63n, (1n << 64n) - 2n];
    for (let k = 0; k < 200; k++) values.push((BigInt(rnd()) << 32n) | BigInt(rnd()));
    for (const v of values) {
      for (const delta of [1, -1] as const) {
        put(block, 2, v);
        const want = v + BigInt(delta);
        if (want < 0n) continue;
        const got = stepRefcount64(block, 2, delta);
        assert.equal(at(block, 2), want, `${v} ${delta}`);
        assert.equal(got, getRefcount(block, 2, 64));
        assert.equal(at(block, 1), 0n, 'neighbours untouched');
        assert.equal(at(block, 3), 0n, 'neighbours untouched');
      }
    }
  });

  it('refuses to wrap: 2^64 - 1 + 1 and 0 - 1 leave the entry unchanged', () => {
    const block = new Uint8Array(8);
    put(block, 0, (1n << 64n) - 1n);
    assert.equal(stepRefcount64(block, 0, 1), undefined);
    assert.equal(at(block, 0), (1n << 64n) - 1n);
    put(block, 0, 0n);
    assert.equal(stepRefcount64(block, 0, -1), undefined);
    assert.equal(at(block, 0), 0n);
  });

  it('reports values above 2^53 as Infinity (callers treat them as in use) and small ones exactly', () => {
    const block = new Uint8Array(8);
    put(block, 0, 1n << 63n);
    assert.equal(stepRefcount64(block, 0, 1), Infinity);
    assert.equal(at(block, 0), (1n << 63n) + 1n);
    put(block, 0, 41n);
    assert.equal(stepRefcount64(block, 0, 1), 42);
  });
});
