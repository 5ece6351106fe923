/**
 * Search patterns: what the user typed (hex with `??` wildcards, text, UTF-16LE text, or a bounded regular
 * expression) turned into a byte pattern the scanners can run. Everything here is user input: every length is
 * bounded before anything is allocated, and each refusal is one line saying why.
 */
import { compileByteRegex, type ByteRegex } from './regex';
import { PatternError } from './errors';

export { PatternError };

export type PatternMode = 'hex' | 'text' | 'utf16' | 'regex';

export interface PatternSpec {
  mode: PatternMode;
  source: string;
  /** Text, UTF-16 and regex: ASCII letters match either case. */
  ignoreCase?: boolean;
}

/** The longest pattern accepted (bytes after encoding, or regex source characters). */
export const MAX_PATTERN_BYTES = 64 * 1024;

/**
 * A fixed-length pattern: byte i matches `exact[i]`, or also `alt[i]` (the other case of a letter);
 * -1 in `exact` is a wildcard.
 */
export interface FixedPattern {
  kind: 'fixed';
  length: number;
  exact: Int16Array;
  alt: Int16Array;
}

export type CompiledPattern = FixedPattern | ByteRegex;

export function compilePattern(spec: PatternSpec): CompiledPattern {
  if (spec.source.length === 0) throw new PatternError('the pattern is empty');
  if (spec.source.length > MAX_PATTERN_BYTES * 4) throw new PatternError(`the pattern is longer than ${MAX_PATTERN_BYTES} bytes`);
  switch (spec.mode) {
    case 'hex':
      return fixedFrom(parseHex(spec.source), false);
    case 'text':
      return fixedFrom(checkLength(Buffer.from(spec.source, 'utf8')), spec.ignoreCase ?? false);
    case 'utf16':
      return fixedFrom(checkLength(Buffer.from(spec.source, 'utf16le')), spec.ignoreCase ?? false);
    case 'regex':
      return compileByteRegex(spec.source, spec.ignoreCase ?? false);
  }
}

function checkLength(bytes: Uint8Array): Uint8Array {
  if (bytes.length > MAX_PATTERN_BYTES) throw new PatternError(`the pattern is ${bytes.length} bytes, more than the ${MAX_PATTERN_BYTES} allowed`);
  return bytes;
}

/** Hex bytes, spaces allowed between them; `??` matches any byte (returned as -1). */
export function parseHex(text: string): Int16Array {
  const digits = text.replace(/^0x/i, '').replace(/[\s,:]+/g, '');
  if (digits.length === 0) throw new PatternError('the hex pattern is empty');
  const bad = /[^0-9a-fA-F?]/.exec(digits);
  if (bad) throw new PatternError(`invalid hex digit '${bad[0]}' in the pattern`);
  if (digits.length % 2 !== 0) throw new PatternError(`the hex pattern has an odd number of digits (${digits.length})`);
  const n = digits.length / 2;
  if (n > MAX_PATTERN_BYTES) throw new PatternError(`the pattern is ${n} bytes, more than the ${MAX_PATTERN_BYTES} allowed`);
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) {
    const pair = digits.slice(2 * i, 2 * i + 2);
    if (pair === '??') out[i] = -1;
    else if (pair.includes('?')) throw new PatternError(`'${pair}': a wildcard is two question marks (??), for a whole byte`);
    else out[i] = parseInt(pair, 16);
  }
  return out;
}

function fixedFrom(bytes: ArrayLike<number>, ignoreCase: boolean): FixedPattern {
  const length = bytes.length;
  const exact = new Int16Array(length);
  const alt = new Int16Array(length).fill(-1);
  for (let i = 0; i < length; i++) {
    const b = bytes[i];
    exact[i] = b;
    if (ignoreCase && b >= 0) alt[i] = otherCase(b);
  }
  return { kind: 'fixed', length, exact, alt };
}

/** The other ASCII case of a letter, or -1. */
function otherCase(b: number): number {
  if (b >= 0x41 && b <= 0x5a) return b + 0x20;
  if (b >= 0x61 && b <= 0x7a) return b - 0x20;
  return -1;
}

/** The longest a match can be: the bytes a scan keeps from one window to the next, plus one. */
export function maxMatchLength(p: CompiledPattern): number {
  return p.kind === 'fixed' ? p.length : p.maxLength;
}

/** True when the pattern occurs inside a long run of zero bytes (then zero ranges hold hits and are scanned). */
export function matchesInZeros(p: CompiledPattern): boolean {
  if (p.kind === 'regex') return p.matchesZeros;
  for (let i = 0; i < p.length; i++) if (p.exact[i] > 0) return false;
  return true;
}
