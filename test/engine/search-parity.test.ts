/**
 * Search hits against a reference: a plain Node scan over `qemu-img convert -O raw` of the same image, on every
 * image kind, with strings planted across cluster boundaries and across a layer boundary (qemu-io write -s).
 */
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openImage } from '../../src/qcow2';
import { compilePattern, searchDisk, type PatternSpec } from '../../src/search';
import { makeQcow2, makeRaw } from '../helpers/images';
import { qemuImg, qemuIo, scratchDir } from '../helpers/qemu';

const NEEDLE = 'Qcow2NeedleXyz!';

interface Kind {
  name: string;
  build(dir: string, plant: (off: number) => string): string;
}

/** qemu-io commands that put NEEDLE (and its UTF-16 form 64 bytes later) at `off`. */
function plantCmds(file: string, off: number): string[] {
  return [`write -s ${file} ${off} ${NEEDLE.length}`];
}

const KINDS: Kind[] = [
  {
    name: 'zlib compressed',
    build: (d, p) =>
      makeQcow2(join(d, 'z.qcow2'), { size: '4M' }, [
        'write -c -P 12 0 64k',
        'write -c -P 0 64k 64k',
        ...plantCmds(p(0), 65536 - 7),
        ...plantCmds(p(1), 3 * 65536 + 100),
      ]),
  },
  {
    name: 'zstd compressed (convert -c)',
    build: (d, p) => {
      const src = makeQcow2(join(d, 'zs.qcow2'), { size: '4M' }, ['write -P 16 0 300k', ...plantCmds(p(0), 131072 - 5), ...plantCmds(p(1), 2 * 1048576 + 3)]);
      const out = join(d, 'zstd.qcow2');
      qemuImg(['convert', '-q', '-c', '-O', 'qcow2', '-o', 'compression_type=zstd', src, out]);
      return out;
    },
  },
  {
    name: 'extended L2 with zero subclusters',
    build: (d, p) =>
      makeQcow2(join(d, 'x.qcow2'), { size: '4M', o: { extended_l2: true } }, [
        'write -P 20 0 2k',
        'write -z 8k 8k',
        'write -P 0x41 64k 64k',
        'write -z 70k 2k',
        ...plantCmds(p(0), 2048 - 4),
        ...plantCmds(p(1), 16384 - 3),
      ]),
  },
  {
    name: 'three-layer chain with a raw base (planted across the layer boundary)',
    build: (d, p) => {
      // The needle's first 6 bytes are in the top layer's cluster ending at 448k, the rest in the raw base.
      const X = 448 * 1024;
      const base = makeRaw(join(d, 'base.raw'), '1M', ['write -P 30 64k 64k', ...plantCmds(p(0), X - 6), ...plantCmds(p(0), 600 * 1024)]);
      const mid = makeQcow2(join(d, 'mid.qcow2'), { size: '1056k', backing: base, backingFmt: 'raw' }, [
        'write -P 32 192k 64k',
        'write -z 512k 64k',
        ...plantCmds(p(1), 200 * 1024),
      ]);
      const top = makeQcow2(join(d, 'top.qcow2'), { size: '3M', backing: mid }, ['write -P 34 0 4k', 'write -z 256k 64k', ...plantCmds(p(0), 2 * 1048576 + 9)]);
      qemuIo(base, ['write -P 0 ' + (X - 6) + ' 6'], ['-f', 'raw']);
      qemuIo(top, [`write -s ${p(3)} ${X - 6} 6`]);
      return top;
    },
  },
  {
    name: 'external data file',
    build: (d, p) =>
      makeQcow2(join(d, 'ext.qcow2'), { size: '4M', o: { data_file: join(d, 'ext.data') } }, [
        'write -P 50 0 128k',
        'write -z 1M 64k',
        ...plantCmds(p(0), 65536 - 2),
        ...plantCmds(p(1), 3 * 1048576),
      ]),
  },
  {
    name: '512-byte clusters',
    build: (d, p) =>
      makeQcow2(join(d, 'c512.qcow2'), { size: '1M', o: { cluster_size: 512 } }, [
        'write -P 7 0 2k',
        ...plantCmds(p(0), 512 * 5 - 3),
        ...plantCmds(p(1), 512 * 40 - 8),
      ]),
  },
  {
    name: '2 MiB clusters',
    build: (d, p) =>
      makeQcow2(join(d, 'c2m.qcow2'), { size: '16M', o: { cluster_size: '2M' } }, [
        'write -P 7 0 1M',
        'write -z 4M 2M',
        ...plantCmds(p(0), 2 * 1048576 - 7),
        ...plantCmds(p(1), 8 * 1048576 - 1),
      ]),
  },
];

const SPECS: PatternSpec[] = [
  { mode: 'text', source: NEEDLE },
  { mode: 'text', source: NEEDLE.toLowerCase(), ignoreCase: true },
  {
    mode: 'hex',
    source: Buffer.from(NEEDLE)
      .toString('hex')
      .replace(/^(.{8})../, '$1??'),
  },
  { mode: 'utf16', source: 'Needle' },
  { mode: 'hex', source: '10 10 10 10' },
  { mode: 'regex', source: 'Needle[A-Z][a-z]{2}!' },
];

/** Reference: every (overlapping) start of the fixed pattern in the raw bytes; regex: finditer. */
function reference(raw: Buffer, spec: PatternSpec, limit: number): number[] {
  const out: number[] = [];
  if (spec.mode === 'regex') {
    const re = new RegExp(spec.source, 'gs');
    for (const m of raw.toString('latin1').matchAll(re)) if (out.push(m.index!) >= limit) break;
    return out;
  }
  let hay = raw;
  let needle: Buffer;
  if (spec.mode === 'hex') {
    const bytes = spec.source.replace(/\s/g, '').match(/../g)!;
    needle = Buffer.from(bytes.map((b) => (b === '??' ? 0 : parseInt(b, 16))));
    const wild = bytes.map((b) => b === '??');
    for (let i = 0; i + needle.length <= hay.length && out.length < limit; i++) {
      let ok = true;
      for (let j = 0; j < needle.length && ok; j++) ok = wild[j] || hay[i + j] === needle[j];
      if (ok) out.push(i);
    }
    return out;
  }
  needle = Buffer.from(spec.source, spec.mode === 'utf16' ? 'utf16le' : 'utf8');
  if (spec.ignoreCase) {
    hay = Buffer.from(raw.toString('latin1').toLowerCase(), 'latin1');
    needle = Buffer.from(needle.toString('latin1').toLowerCase(), 'latin1');
  }
  for (let i = hay.indexOf(needle); i >= 0 && out.length < limit; i = hay.indexOf(needle, i + 1)) out.push(i);
  return out;
}

describe('search: hits equal a scan of qemu-img convert -O raw', function () {
  this.timeout(120_000);
  const s = scratchDir('q2i-search-');
  after(() => s.cleanup());
  const needleFile = s.path('needle.bin');
  const utf16File = s.path('needle16.bin');
  const headFile = s.path('head.bin');
  writeFileSync(needleFile, NEEDLE);
  writeFileSync(utf16File, Buffer.from(NEEDLE, 'utf16le'));
  writeFileSync(headFile, NEEDLE.slice(0, 6));
  const plant = (i: number) => (i === 1 ? utf16File : i === 3 ? headFile : needleFile);

  for (const kind of KINDS) {
    it(kind.name, async () => {
      const dir = scratchDir('q2i-sk-');
      try {
        const image = kind.build(dir.dir, plant);
        const rawPath = dir.path('out.raw');
        qemuImg(['convert', '-q', '-O', 'raw', image, rawPath]);
        const raw = readFileSync(rawPath);
        assert.ok(raw.indexOf(NEEDLE) >= 0, 'the needle was planted');
        const dev = await openImage(image, { readOnly: true });
        try {
          for (const spec of SPECS) {
            const limit = 300;
            const want = reference(raw, spec, limit);
            // A small window crosses many windows; the default one reads in 4 MiB pieces.
            for (const windowBytes of [4096 + 17, undefined]) {
              const r = await searchDisk(dev, compilePattern(spec), { limit, windowBytes });
              assert.deepEqual(
                r.hits.map((h) => h.offset),
                want,
                `${spec.mode} ${spec.source} window ${windowBytes}`,
              );
              assert.equal(r.limitReached, want.length >= limit);
            }
            if (want.length > 0) {
              const back = await searchDisk(dev, compilePattern(spec), { direction: 'backward', limit: 1, origin: want[want.length - 1] });
              if (want.length > 1 && want.length < limit && spec.mode !== 'regex')
                assert.equal(back.hits[0]?.offset, want[want.length - 2], 'previous hit backwards');
            }
          }
        } finally {
          await dev.close();
        }
      } finally {
        dir.cleanup();
      }
    });
  }

  it('a 4 TiB sparse image: planted hits found end to end, with layer and host offsets', async () => {
    const T = 1024 ** 4;
    const spots = [4 * 1024 ** 3 - 5, 3 * T + 65536 * 3 + 1, 4 * T - 65536];
    const image = makeQcow2(s.path('huge.qcow2'), { size: '4T' }, ['write -P 70 0 64k', 'write -z 6G 1M', ...spots.flatMap((o) => plantCmds(needleFile, o))]);
    const dev = await openImage(image, { readOnly: true });
    try {
      const t0 = Date.now();
      const r = await searchDisk(dev, compilePattern({ mode: 'text', source: NEEDLE }));
      assert.deepEqual(
        r.hits.map((h) => h.offset),
        spots,
      );
      assert.ok(Date.now() - t0 < 20_000);
      for (const h of r.hits) {
        assert.equal(h.layer, 0);
        assert.ok(h.hostOffset !== null);
        const m = await dev.getMapping(h.offset);
        assert.equal(h.hostOffset, m.hostOffset! + (h.offset - m.offset));
      }
      // All-zero pattern: found in zero ranges without reading them, and the limit says so.
      const z = await searchDisk(dev, compilePattern({ mode: 'hex', source: '00 00 00 00' }), { start: 64 * 1024 - 2, limit: 5 });
      assert.deepEqual(
        z.hits.map((h) => h.offset),
        [65536, 65537, 65538, 65539, 65540],
      );
      assert.ok(z.limitReached);
      const ac = new AbortController();
      ac.abort();
      const c = await searchDisk(dev, compilePattern({ mode: 'text', source: 'x' }), { signal: ac.signal });
      assert.ok(c.cancelled);
    } finally {
      await dev.close();
    }
  });
});
