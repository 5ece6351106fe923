/** The fault-injecting files themselves: what survives a power loss, and which operation fails. */
import { strict as assert } from 'node:assert';
import { FailingIo, PowerLossIo, seededRandom } from '../../src/qcow2/io/fault';
import { pickNs } from '../helpers/crash';

const bytes = (...v: number[]): Uint8Array => new Uint8Array(v);

describe('fault-injecting IO', () => {
  it('PowerLossIo: synced writes survive, unsynced ones are dropped, the N-th write and all later calls fail', async () => {
    const io = new PowerLossIo(bytes(0, 0, 0, 0), 'img', { failAtWrite: 3 });
    await io.writeAt(bytes(1), 0);
    await io.fsync();
    await io.writeAt(bytes(2), 1);
    const seen = new Uint8Array(4);
    await io.readAt(seen, 0);
    assert.deepEqual([...seen], [1, 2, 0, 0], 'reads see unsynced writes');
    await assert.rejects(io.writeAt(bytes(3), 2), /power lost/);
    await assert.rejects(io.readAt(seen, 0), /power lost/);
    await assert.rejects(io.fsync(), /power lost/);
    assert.equal(io.writes, 3);
    assert.equal(io.writesAtLastSync, 1);
    assert.deepEqual([...(await io.crashImage())], [1, 0, 0, 0]);
    assert.deepEqual([...io.liveImage()], [1, 2, 0, 0]);
  });

  it('PowerLossIo: with keepProbability a seeded subset of unsynced writes survives, in order', async () => {
    const run = async (seed: number): Promise<number[]> => {
      const io = new PowerLossIo(new Uint8Array(64), 'img', { failAtWrite: Infinity, keepProbability: 0.5, seed });
      for (let i = 0; i < 64; i++) await io.writeAt(bytes(i + 1), i);
      await io.writeAt(bytes(200), 0); // a later write to the same place
      return [...(await io.crashImage())];
    };
    const a = await run(7);
    assert.deepEqual(a, await run(7), 'same seed, same survivors');
    const kept = a.filter((v) => v !== 0).length;
    assert.ok(kept > 10 && kept < 60, `about half kept (${kept})`);
    assert.notDeepEqual(a, await run(8));
  });

  it('PowerLossIo: torn writes keep whole 512-byte sectors only, including parts of the interrupted write', async () => {
    const io = new PowerLossIo(new Uint8Array(8192), 'img', { failAtWrite: 2, keepProbability: 1, tornWrites: true, seed: 3 });
    await io.writeAt(new Uint8Array(4096).fill(1), 1024);
    await assert.rejects(io.writeAt(new Uint8Array(3000).fill(2), 6000), /power lost/);
    const img = await io.crashImage();
    for (let sec = 0; sec < 16; sec++) {
      const vals = new Set(img.subarray(sec * 512, sec * 512 + 512));
      if (sec >= 2 && sec < 10) assert.ok(vals.size === 1, `sector ${sec} is torn inside`);
    }
    const ones = img.filter((v) => v === 1).length;
    assert.ok(ones > 0 && ones < 4096, `some but not all sectors of the first write survive (${ones})`);
    const twos = img.filter((v) => v === 2).length;
    assert.ok(twos > 0 && twos < 3000, `the interrupted write landed in part (${twos})`);
  });

  it('PowerLossIo: truncation is volatile too', async () => {
    const io = new PowerLossIo(bytes(1, 2, 3, 4), 'img', { failAtWrite: Infinity });
    await io.truncate(2);
    assert.equal(await io.size(), 2);
    assert.deepEqual([...(await io.crashImage())], [1, 2, 3, 4]);
    await io.fsync();
    assert.deepEqual([...(await io.crashImage())], [1, 2]);
  });

  it('FailingIo: the N-th write fails with EIO and changes nothing; sticky mode fails everything after', async () => {
    const once = new FailingIo(new Uint8Array(4), 'img', { failAtWrite: 2, mode: 'once' });
    await once.writeAt(bytes(1), 0);
    await assert.rejects(once.writeAt(bytes(2), 1), /EIO: write failed/);
    await once.writeAt(bytes(3), 2);
    await once.fsync();
    assert.deepEqual([...once.bytes()], [1, 0, 3, 0]);

    const sticky = new FailingIo(new Uint8Array(4), 'img', { failAtWrite: 1, mode: 'sticky' });
    await assert.rejects(sticky.writeAt(bytes(1), 0), /EIO/);
    await assert.rejects(sticky.writeAt(bytes(1), 1), /EIO/);
    await assert.rejects(sticky.fsync(), /EIO/);
    assert.deepEqual([...sticky.bytes()], [0, 0, 0, 0]);

    const sync = new FailingIo(new Uint8Array(1), 'img', { failAtSync: 2 });
    await sync.fsync();
    await assert.rejects(sync.fsync(), /EIO: fsync failed/);
  });

  it('seededRandom is deterministic and uniform enough', () => {
    const r = seededRandom(1);
    const xs = Array.from({ length: 10000 }, r);
    assert.deepEqual(xs.slice(0, 5), Array.from({ length: 10000 }, seededRandom(1)).slice(0, 5));
    const mean = xs.reduce((a, b) => a + b) / xs.length;
    assert.ok(Math.abs(mean - 0.5) < 0.02);
  });

  it('pickNs covers every small N, samples the rest and always includes the end', () => {
    const ns = pickNs(1000, 30, 50);
    for (let n = 1; n <= 30; n++) assert.ok(ns.includes(n));
    assert.ok(ns.includes(1000) && ns.includes(1001));
    assert.ok(ns.length <= 60);
    assert.deepEqual(
      pickNs(10, 30, 50),
      Array.from({ length: 11 }, (_, i) => i + 1),
    );
    assert.ok(pickNs(282, 30, 25).length < 40);
  });
});
