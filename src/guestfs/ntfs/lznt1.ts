/**
 * LZNT1, the NTFS compression of a compression unit: 4 KiB chunks, each with a 2-byte header (size - 3, bit 15 =
 * compressed), tokens in groups of 8 behind a flag byte; a back-reference splits its 16 bits between offset and
 * length by how far into the chunk it is. Written by hand: no npm decoder exists. Output is bounded by `out`.
 */
import { badFs } from '../reader-util';

/** Decompresses `src` into `out`; returns the bytes produced (the rest of `out` is left as zeros). */
export function lznt1Decompress(src: Uint8Array, out: Uint8Array, what: string): number {
  let s = 0;
  let o = 0;
  while (s + 2 <= src.length && o < out.length) {
    const header = src[s] | (src[s + 1] << 8);
    s += 2;
    if (header === 0) break;
    const size = (header & 0xfff) + 1;
    const end = Math.min(s + size, src.length);
    const chunkStart = o;
    const chunkEnd = Math.min(o + 4096, out.length);
    if (!(header & 0x8000)) {
      const n = Math.min(end - s, chunkEnd - o);
      out.set(src.subarray(s, s + n), o);
      o += n;
      s = end;
      continue;
    }
    while (s < end && o < chunkEnd) {
      const flags = src[s++];
      for (let bit = 0; bit < 8 && s < end && o < chunkEnd; bit++) {
        if (!(flags & (1 << bit))) {
          out[o++] = src[s++];
          continue;
        }
        if (s + 2 > end) throw badFs(`${what}: LZNT1 back-reference cut short`);
        const token = src[s] | (src[s + 1] << 8);
        s += 2;
        let pos = o - chunkStart;
        let lenBits = 12;
        for (pos -= 1; pos >= 0x10; pos >>= 1) lenBits--;
        const back = (token >> lenBits) + 1;
        const len = (token & ((1 << lenBits) - 1)) + 3;
        if (back > o - chunkStart) throw badFs(`${what}: LZNT1 back-reference before the chunk`);
        for (let i = 0; i < len && o < chunkEnd; i++, o++) out[o] = out[o - back];
      }
    }
    s = end;
    // A compressed chunk that ends short of 4 KiB is followed by zeros (already in `out`).
    if (o < chunkEnd && s + 2 <= src.length && (src[s] | (src[s + 1] << 8)) !== 0) o = chunkEnd;
  }
  return o;
}
