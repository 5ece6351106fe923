/**
 * Finding a compiled pattern inside one buffer. Plain patterns of 8 bytes or more go to glibc's memmem through
 * the engine's optional native addon (2-3x Buffer.indexOf on random data, which is what lets a whole-disk search
 * keep up with grep); shorter ones, and all of them without the addon, to Buffer.indexOf (native memchr for short
 * needles, Boyer-Moore-Horspool for longer ones). Wildcard and case-insensitive patterns look for their best
 * "anchor" that way (the longest run of exact bytes, else both cases of one letter) and verify each candidate
 * byte by byte.
 */
import { seekAddon } from '../qcow2';
import type { CompiledPattern, FixedPattern } from './pattern';
import { matchesInZeros, maxMatchLength } from './pattern';
import type { ByteRegex } from './regex';

/** Called for each match start (relative to the buffer); return false to stop the scan. */
export type OnMatch = (start: number, length: number) => boolean;

export interface Matcher {
  /** Bytes a scan must keep from the end of one window to the start of the next: longest match - 1. */
  readonly keep: number;
  readonly matchesZeros: boolean;
  /**
   * Reports matches lying inside `buf` whose start is in [from, acceptEnd). Unless `final`, a variable-length
   * matcher also leaves the last `keep` starts for the next window (a longer match may continue there).
   * Returns where the next window should resume (relative to this buffer), or -1 when onMatch stopped it.
   */
  scan(buf: Buffer, from: number, acceptEnd: number, final: boolean, onMatch: OnMatch): number;
}

export function makeMatcher(p: CompiledPattern): Matcher {
  return p.kind === 'fixed' ? new FixedMatcher(p) : new RegexMatcher(p);
}

/** First start of `needle` in buf[from, end), or -1: memmem when the addon is there, else Buffer.indexOf. */
type FindBytes = (buf: Buffer, needle: Buffer, from: number, end: number) => number;

/**
 * From this needle length memmem wins. Below it Buffer.indexOf does: V8 then looks for the first byte with memchr,
 * 2-4x faster on random data than memmem's short-needle loop (measured on 256 MiB of /dev/urandom).
 */
const MEMMEM_MIN_NEEDLE = 8;

function bytesFinder(needleLength: number): FindBytes {
  const native = needleLength >= MEMMEM_MIN_NEEDLE ? seekAddon()?.indexOf : undefined;
  if (native) return native;
  return (buf, needle, from, end) => {
    const at = buf.indexOf(needle, from);
    return at >= 0 && at + needle.length <= end ? at : -1;
  };
}

type Anchor = { kind: 'run'; at: number; needle: Buffer } | { kind: 'pair'; at: number; a: number; b: number } | { kind: 'any' };

class FixedMatcher implements Matcher {
  readonly keep: number;
  readonly matchesZeros: boolean;
  private readonly anchor: Anchor;
  /** Positions to verify after the anchor matched (all but the anchor's). */
  private readonly checks: number[] = [];
  private readonly findBytes: FindBytes;

  constructor(private readonly p: FixedPattern) {
    this.keep = maxMatchLength(p) - 1;
    this.matchesZeros = matchesInZeros(p);
    this.anchor = chooseAnchor(p);
    const a = this.anchor;
    this.findBytes = bytesFinder(a.kind === 'run' ? a.needle.length : 0);
    for (let i = 0; i < p.length; i++) {
      if (p.exact[i] < 0) continue;
      if (a.kind === 'run' && i >= a.at && i < a.at + a.needle.length) continue;
      if (a.kind === 'pair' && i === a.at) continue;
      this.checks.push(i);
    }
  }

  scan(buf: Buffer, from: number, acceptEnd: number, _final: boolean, onMatch: OnMatch): number {
    const len = this.p.length;
    const last = Math.min(acceptEnd, buf.length - len + 1); // exclusive bound on starts
    const a = this.anchor;
    let nextA = -2;
    let nextB = -2;
    // The anchor of the last start allowed ends here: no need to look further.
    const runEnd = a.kind === 'run' ? Math.min(buf.length, last - 1 + a.at + a.needle.length) : 0;
    for (let start = from; start < last; start++) {
      if (a.kind === 'run') {
        const hit = this.findBytes(buf, a.needle, start + a.at, runEnd);
        if (hit < 0) break;
        start = hit - a.at;
      } else if (a.kind === 'pair') {
        const pos = start + a.at;
        if (nextA !== -1 && nextA < pos) nextA = buf.indexOf(a.a, pos);
        if (nextB !== -1 && nextB < pos) nextB = buf.indexOf(a.b, pos);
        const hit = nextA < 0 ? nextB : nextB < 0 ? nextA : Math.min(nextA, nextB);
        if (hit < 0) break;
        start = hit - a.at;
      }
      if (start >= last) break;
      if (this.verify(buf, start) && !onMatch(start, len)) return -1;
    }
    return Math.max(from, last);
  }

  private verify(buf: Buffer, start: number): boolean {
    const { exact, alt } = this.p;
    for (const i of this.checks) {
      const b = buf[start + i];
      if (b !== exact[i] && b !== alt[i]) return false;
    }
    return true;
  }
}

/**
 * The best way to find candidates: the longest run of exact bytes that holds a non-zero byte (zeros are
 * everywhere in disks), else one letter in both cases, else a run of zeros, else every position.
 */
function chooseAnchor(p: FixedPattern): Anchor {
  let best: { at: number; len: number; score: number } | undefined;
  for (let i = 0; i < p.length;) {
    if (p.exact[i] < 0 || p.alt[i] >= 0) {
      i++;
      continue;
    }
    let j = i;
    let nonZero = false;
    for (; j < p.length && p.exact[j] >= 0 && p.alt[j] < 0; j++) if (p.exact[j] !== 0) nonZero = true;
    const score = (j - i) * (nonZero ? 1000 : 1);
    if (!best || score > best.score) best = { at: i, len: j - i, score };
    i = j;
  }
  const pairAt = p.alt.findIndex((v) => v >= 0);
  if (best && (best.score >= 1000 || pairAt < 0)) {
    return { kind: 'run', at: best.at, needle: Buffer.from(Array.from(p.exact.subarray(best.at, best.at + best.len))) };
  }
  if (pairAt >= 0) return { kind: 'pair', at: pairAt, a: p.exact[pairAt], b: p.alt[pairAt] };
  return { kind: 'any' };
}

class RegexMatcher implements Matcher {
  readonly keep: number;
  readonly matchesZeros: boolean;

  constructor(private readonly p: ByteRegex) {
    this.keep = p.maxLength - 1;
    this.matchesZeros = p.matchesZeros;
  }

  scan(buf: Buffer, from: number, acceptEnd: number, final: boolean, onMatch: OnMatch): number {
    const limit = Math.min(acceptEnd, final ? buf.length : buf.length - this.keep);
    if (from >= limit) return from;
    const text = buf.toString('latin1');
    const re = this.p.regex;
    re.lastIndex = from;
    let resume = limit;
    for (;;) {
      const m = re.exec(text);
      if (!m || m.index >= limit) break;
      if (!onMatch(m.index, m[0].length)) return -1;
      resume = Math.max(limit, re.lastIndex);
    }
    return resume;
  }
}
