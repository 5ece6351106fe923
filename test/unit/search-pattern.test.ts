/** Search patterns: parsing and refusals, and the matchers against a plain scan on seeded random buffers. */
import { strict as assert } from 'node:assert';
import { compilePattern, parseHex, PatternError, searchDisk, type PatternSpec } from '../../src/search';
import type { Mapping } from '../../src/qcow2';
import { prng } from '../helpers/images';

describe('search patterns', () => {
  it('hex: spaces, 0x, ?? wildcards', () => {
    assert.deepEqual(Array.from(parseHex('0xDE ad ?? ef')), [0xde, 0xad, -1, 0xef]);
    for (const [bad, why] of [
      ['', /empty/],
      ['zz', /invalid hex digit 'z'/],
      ['abc', /odd number/],
      ['a?', /two question marks/],
    ] as [string, RegExp][]) {
      assert.throws(
        () => compilePattern({ mode: 'hex', source: bad }),
        (e: Error) => e instanceof PatternError && why.test(e.message),
      );
    }
    assert.throws(() => compilePattern({ mode: 'text', source: 'x'.repeat(65 * 1024) }), PatternError);
  });

  it('regex: bounded subset accepted, run-away shapes refused', () => {
    const ok = compilePattern({ mode: 'regex', source: 'ab[0-9]{2,4}\\x00?c*' });
    assert.equal(ok.kind, 'regex');
    if (ok.kind === 'regex') assert.equal(ok.maxLength, 2 + 4 + 1 + 256);
    for (const bad of ['(a+)+b', '(a|aa)*', 'a*a*a*', '^abc', 'a\\b', '(?=a)b', '(a)\\1', 'a?', '', 'a{5000}', '[abc', '(ab']) {
      assert.throws(() => compilePattern({ mode: 'regex', source: bad }), PatternError, bad);
    }
  });

  it('matches equal a plain scan on seeded random data with planted hits, across many small windows', async () => {
    const rnd = prng(42);
    const disk = Buffer.alloc(300_000);
    for (let i = 0; i < disk.length; i++) disk[i] = rnd() < 0.5 ? 0 : Math.floor(rnd() * 8) + 0x61;
    for (let i = 0; i < 40; i++) disk.write('FooBar', Math.floor(rnd() * (disk.length - 6)), 'latin1');
    // Zero runs every other 8 KiB "cluster", reported as zero ranges by the mapping.
    for (let c = 8192; c < disk.length; c += 16384) disk.fill(0, c, Math.min(disk.length, c + 8192));
    const target = {
      virtualSize: disk.length,
      readAt: async (buf: Uint8Array, off: number) => (buf.set(disk.subarray(off, off + buf.length)), buf.length),
      getMapping: async (off: number): Promise<Mapping> => {
        const zero = Math.floor(off / 8192) % 2 === 1;
        const end = Math.min(disk.length, (Math.floor(off / 8192) + 1) * 8192);
        return { offset: off, length: end - off, kind: zero ? 'zero' : 'data', depth: 0, file: 'mem', format: 'qcow2', hostOffset: zero ? undefined : off };
      },
    };
    const specs: PatternSpec[] = [
      { mode: 'text', source: 'FooBar' },
      { mode: 'text', source: 'foobar', ignoreCase: true },
      { mode: 'hex', source: '00 00 61' },
      { mode: 'hex', source: '62 ?? 63' },
      { mode: 'regex', source: 'Foo[A-Z]a' },
      { mode: 'text', source: 'a' },
    ];
    for (const spec of specs) {
      const want: number[] = [];
      const re = spec.mode === 'regex' ? new RegExp(spec.source, 'g') : undefined;
      if (re) for (const m of disk.toString('latin1').matchAll(re)) want.push(m.index!);
      else {
        const hex = spec.mode === 'hex' ? spec.source.split(' ') : undefined;
        const needle = hex ? hex.map((h) => (h === '??' ? -1 : parseInt(h, 16))) : Array.from(Buffer.from(spec.source, 'latin1'));
        const fold = (b: number) => (spec.ignoreCase && b >= 0x41 && b <= 0x5a ? b + 32 : b);
        for (let i = 0; i + needle.length <= disk.length; i++) if (needle.every((b, j) => b < 0 || fold(disk[i + j]) === fold(b))) want.push(i);
      }
      const got = await searchDisk(target, compilePattern(spec), { limit: 1_000_000, windowBytes: 5000 });
      assert.deepEqual(
        got.hits.map((h) => h.offset),
        want,
        `${spec.mode} ${spec.source}`,
      );
      const mid = want[Math.floor(want.length / 2)];
      const back = await searchDisk(target, compilePattern(spec), { direction: 'backward', origin: mid, limit: 3, windowBytes: 5000 });
      if (spec.mode !== 'regex')
        assert.deepEqual(
          back.hits.map((h) => h.offset),
          want
            .filter((x) => x < mid)
            .slice(-3)
            .reverse(),
          `backward ${spec.source}`,
        );
    }
  });
});
