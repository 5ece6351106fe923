/**
 * Search with its default read windows (WINDOW bytes): strings planted across each window boundary, across a
 * cluster boundary and at the disk's last bytes are found once each, the same as a scan of `qemu-img convert
 * -O raw`, with the native memmem finder (the addon `npm run build` makes) and with Buffer.indexOf without it.
 */
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { openImage } from '../../src/qcow2';
import { resetSeekAddon, seekAddon } from '../../src/qcow2/io/holes';
import { compilePattern, searchDisk, type PatternSpec } from '../../src/search';
import { WINDOW } from '../../src/search/range-scan';
import { makeQcow2 } from '../helpers/images';
import { qemuImg, scratchDir } from '../helpers/qemu';

const NEEDLE = 'WindowEdgeNeedle';
const SIZE = 3 * WINDOW + 2 * 1024 * 1024;

/** Every start of `needle` in `hay`, overlapping ones included. */
function starts(hay: Buffer, needle: Buffer): number[] {
  const out: number[] = [];
  for (let i = hay.indexOf(needle); i >= 0; i = hay.indexOf(needle, i + 1)) out.push(i);
  return out;
}

describe('search: matches across the default read windows', function () {
  this.timeout(120_000);
  const s = scratchDir('q2i-search-win-');
  let image = '';
  let raw = Buffer.alloc(0);
  // Straddling each window boundary by a different amount, a cluster boundary, and ending at the disk's end.
  const spots = [WINDOW - 1, 2 * WINDOW - 8, 3 * WINDOW - (NEEDLE.length - 1), 3 * WINDOW + 65536 - 5, SIZE - NEEDLE.length];

  before(() => {
    writeFileSync(s.path('needle.bin'), NEEDLE);
    image = makeQcow2(s.path('w.qcow2'), { size: String(SIZE) }, [
      `write -P 0x57 0 ${SIZE}`,
      ...spots.map((o) => `write -s ${s.path('needle.bin')} ${o} ${NEEDLE.length}`),
    ]);
    qemuImg(['convert', '-q', '-O', 'raw', image, s.path('w.raw')]);
    raw = readFileSync(s.path('w.raw'));
  });
  after(() => {
    delete process.env.Q2I_NO_SEEK_ADDON;
    resetSeekAddon();
    s.cleanup();
  });

  const specs: { spec: PatternSpec; needle: Buffer }[] = [
    { spec: { mode: 'text', source: NEEDLE }, needle: Buffer.from(NEEDLE) },
    { spec: { mode: 'text', source: NEEDLE.toUpperCase(), ignoreCase: true }, needle: Buffer.from(NEEDLE) },
    // A wildcard in the middle: the longest exact run is the anchor, the rest is verified.
    {
      spec: {
        mode: 'hex',
        source: Buffer.from(NEEDLE)
          .toString('hex')
          .replace(/^(.{12})../, '$1??'),
      },
      needle: Buffer.from(NEEDLE),
    },
  ];

  for (const finder of ['memmem (native addon)', 'Buffer.indexOf (no addon)']) {
    it(`finds each planted string once, with ${finder}`, async () => {
      if (finder.startsWith('memmem')) delete process.env.Q2I_NO_SEEK_ADDON;
      else process.env.Q2I_NO_SEEK_ADDON = '1';
      resetSeekAddon();
      if (finder.startsWith('memmem')) assert.equal(typeof seekAddon()?.indexOf, 'function', 'the native addon is built (npm run build)');
      else assert.equal(seekAddon(), null);
      const want = starts(raw, Buffer.from(NEEDLE));
      assert.deepEqual(want, spots, 'the reference finds the planted strings');
      const dev = await openImage(image, { readOnly: true });
      try {
        for (const { spec, needle } of specs) {
          const r = await searchDisk(dev, compilePattern(spec));
          assert.deepEqual(
            r.hits.map((h) => h.offset),
            starts(raw, needle),
            `${spec.mode} ${spec.source}`,
          );
          // A scope ending inside a planted string: a match must lie wholly inside it.
          const cut = await searchDisk(dev, compilePattern(spec), { start: WINDOW - 100, end: 2 * WINDOW - 1 });
          assert.deepEqual(
            cut.hits.map((h) => h.offset),
            [WINDOW - 1],
            `${spec.mode} ${spec.source} in a scope`,
          );
        }
        const back = await searchDisk(dev, compilePattern(specs[0].spec), { direction: 'backward', limit: 2, origin: spots[3] + 1 });
        assert.deepEqual(
          back.hits.map((h) => h.offset),
          [spots[3], spots[2]],
        );
      } finally {
        await dev.close();
      }
    });
  }

  it('the native indexOf agrees with Buffer.indexOf on seeded random data, and clamps bad bounds', () => {
    delete process.env.Q2I_NO_SEEK_ADDON;
    resetSeekAddon();
    const indexOf = seekAddon()?.indexOf;
    assert.ok(indexOf, 'the native addon is built (npm run build)');
    let seed = 12;
    const next = () => (seed = (seed * 1103515245 + 12345) >>> 0) >>> 24;
    const hay = Buffer.alloc(1 << 20);
    for (let i = 0; i < hay.length; i++) hay[i] = next() & 3; // a small alphabet: many partial matches
    for (let round = 0; round < 200; round++) {
      const at = next() * 4096;
      const needle = hay.subarray(at, at + 1 + (next() % 24));
      const from = next() * 4096 + next();
      const end = Math.min(hay.length, from + next() * 64);
      const want = hay.subarray(0, end).indexOf(needle, from);
      assert.equal(indexOf(hay, needle, from, end), want >= 0 && want + needle.length <= end ? want : -1, `round ${round}`);
    }
    const h = Buffer.from('hello world, hello');
    const n = Buffer.from('hello');
    assert.deepEqual(
      [
        indexOf(h, n, 1, 18),
        indexOf(h, n, 1, 17),
        indexOf(h, n, -5, 1e300),
        indexOf(h, n, NaN, NaN),
        indexOf(h, n, 1e300, 1e300),
        indexOf(h, Buffer.alloc(0), 0, 9),
      ],
      [13, -1, 0, -1, -1, -1],
    );
    assert.throws(() => indexOf(new Uint16Array(4) as unknown as Uint8Array, n, 0, 4), /expected/);
  });

  it('a cancel reaches a search whose reads never leave the event loop (compressed clusters from one read-ahead)', async () => {
    // 64 MiB of text in 2 MiB clusters compresses to a few KiB: one read-ahead holds every cluster, so without
    // the scan's own yields no timer or message would run before the search ended.
    const text = Buffer.alloc(64 * 1024 * 1024, 'a line of guest log text 0123456789\n');
    writeFileSync(s.path('text.raw'), text);
    const packed = s.path('text-z.qcow2');
    qemuImg(['convert', '-q', '-c', '-f', 'raw', '-O', 'qcow2', '-o', 'cluster_size=2M', s.path('text.raw'), packed]);
    const dev = await openImage(packed, { readOnly: true });
    try {
      assert.equal((await dev.getMapping(WINDOW)).kind, 'compressed');
      const ac = new AbortController();
      let last = 0;
      const onProgress = (done: number) => {
        // The cancel arrives as an event, as a message from the view would: it runs only when the loop does.
        if (last === 0) setImmediate(() => ac.abort());
        last = done;
      };
      const r = await searchDisk(dev, compilePattern({ mode: 'text', source: NEEDLE }), { signal: ac.signal, onProgress });
      assert.ok(r.cancelled, 'the search saw the abort');
      assert.ok(last < text.length, `stopped before the end (covered ${last} bytes)`);
    } finally {
      await dev.close();
    }
  });
});
