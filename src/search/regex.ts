/**
 * Regular expressions over guest bytes, made safe to run on untrusted data.
 *
 * The expression runs on the bytes as a latin1 string (one character per byte) with JavaScript's engine, which
 * backtracks: `(a+)+b` on a run of `a`s never ends. So the source is parsed here first, and only a subset whose
 * work per position is bounded is accepted:
 *  - atoms: literals, escapes (\xHH \d \w \s \n \r \t \0 and escaped punctuation), `.`, character classes;
 *  - groups `( )` and `(?: )` with `|`;
 *  - quantifiers ? {n} {n,m}, and * + {n,} capped at REGEX_REPEAT_CAP repeats;
 * and refused: anchors and \b (a window edge is not a line edge), look-arounds, back-references, nested
 * quantifiers or a quantified group with alternatives (the classic run-away shapes), more variable-width choice
 * than VARIABLE_BUDGET, an empty match, and a match longer than REGEX_MAX_MATCH.
 * The parser also yields the longest possible match, which the scan keeps between windows.
 * Hand-written because no regex library in the dependency tree reports match-length bounds.
 */
export interface ByteRegex {
  kind: 'regex';
  /** Rewritten source (unbounded repeats capped); flags 'gs' (+ 'i'). */
  regex: RegExp;
  minLength: number;
  maxLength: number;
  matchesZeros: boolean;
}

export const REGEX_REPEAT_CAP = 256;
export const REGEX_MAX_MATCH = 4096;
/** Product of (max - min + 1) over variable quantifiers: bounds backtracking per start position. */
const VARIABLE_BUDGET = 4096;

import { PatternError } from './errors';

interface Node {
  min: number;
  max: number;
  /** Has a quantifier with max > 1 inside, or alternatives. */
  complex: boolean;
  out: string;
}

class Parser {
  pos = 0;
  budget = 1;
  constructor(readonly src: string) {}

  fail(why: string): never {
    throw new PatternError(`regex: ${why} (at character ${this.pos + 1})`);
  }

  alternation(): Node {
    const alts = [this.sequence()];
    while (this.src[this.pos] === '|') {
      this.pos++;
      alts.push(this.sequence());
    }
    if (alts.length === 1) return alts[0];
    return { min: Math.min(...alts.map((a) => a.min)), max: Math.max(...alts.map((a) => a.max)), complex: true, out: alts.map((a) => a.out).join('|') };
  }

  sequence(): Node {
    const seq: Node = { min: 0, max: 0, complex: false, out: '' };
    while (this.pos < this.src.length && this.src[this.pos] !== '|' && this.src[this.pos] !== ')') {
      const atom = this.quantified(this.atom());
      seq.min += atom.min;
      seq.max += atom.max;
      seq.complex ||= atom.complex;
      seq.out += atom.out;
      if (seq.max > REGEX_MAX_MATCH) this.fail(`a match could be longer than ${REGEX_MAX_MATCH} bytes`);
    }
    return seq;
  }

  atom(): Node {
    const c = this.src[this.pos];
    const one = (out: string): Node => ({ min: 1, max: 1, complex: false, out });
    if (c === '(') {
      this.pos++;
      if (this.src[this.pos] === '?') {
        if (this.src[this.pos + 1] !== ':') this.fail('look-arounds and named groups are not supported');
        this.pos += 2;
      }
      const inner = this.alternation();
      if (this.src[this.pos] !== ')') this.fail('missing )');
      this.pos++;
      return { ...inner, out: `(?:${inner.out})` };
    }
    if (c === '[') return one(this.charClass());
    if (c === '\\') return one(this.escape(false));
    if (c === '^' || c === '$') this.fail('anchors are not supported');
    if ('*+?{'.includes(c)) this.fail(`nothing to repeat before '${c}'`);
    this.pos++;
    return one(c === '.' ? '[\\s\\S]' : c);
  }

  escape(inClass: boolean): string {
    const e = this.src[this.pos + 1];
    if (e === undefined) this.fail('trailing backslash');
    this.pos += 2;
    if (e === 'x') {
      const hex = this.src.slice(this.pos, this.pos + 2);
      if (!/^[0-9a-fA-F]{2}$/.test(hex)) this.fail('\\x needs two hex digits');
      this.pos += 2;
      return `\\x${hex}`;
    }
    if ('dDwWsSnrtfv0'.includes(e)) {
      if (e === '0' && /[0-9]/.test(this.src[this.pos] ?? '')) this.fail('octal escapes are not supported');
      return `\\${e}`;
    }
    if (e === 'b' || e === 'B') {
      if (inClass && e === 'b') return '\\x08';
      this.fail('word boundaries are not supported');
    }
    if (/[0-9]/.test(e)) this.fail('back-references are not supported');
    if (/[A-Za-z]/.test(e)) this.fail(`unsupported escape \\${e}`);
    return `\\${e}`;
  }

  charClass(): string {
    let out = '[';
    this.pos++;
    if (this.src[this.pos] === '^') {
      out += '^';
      this.pos++;
    }
    let first = true;
    while (this.pos < this.src.length && (this.src[this.pos] !== ']' || first)) {
      first = false;
      const c = this.src[this.pos];
      if (c === '\\') out += this.escape(true);
      else {
        out += c === '[' || c === ']' ? `\\${c}` : c;
        this.pos++;
      }
    }
    if (this.src[this.pos] !== ']') this.fail('missing ]');
    this.pos++;
    return out + ']';
  }

  quantified(atom: Node): Node {
    const c = this.src[this.pos];
    let min: number;
    let max: number;
    if (c === '?' || c === '*' || c === '+') {
      this.pos++;
      [min, max] = c === '?' ? [0, 1] : c === '*' ? [0, REGEX_REPEAT_CAP] : [1, REGEX_REPEAT_CAP];
    } else if (c === '{' && /^\{\d+(,\d*)?\}/.test(this.src.slice(this.pos))) {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos))!;
      this.pos += m[0].length;
      min = Number(m[1]);
      max = m[2] === undefined ? min : m[3] === '' ? Math.max(min, REGEX_REPEAT_CAP) : Number(m[3]);
      if (max < min) this.fail(`{${min},${max}}: the maximum is below the minimum`);
      if (min > REGEX_MAX_MATCH) this.fail(`{${min}} repeats more than ${REGEX_MAX_MATCH} times`);
    } else return atom;
    if (this.src[this.pos] === '?') this.pos++; // lazy: same bounds
    if ('*+?{'.includes(this.src[this.pos] ?? '') && this.src[this.pos] !== undefined) this.fail('a quantifier cannot follow a quantifier');
    if (max > 1 && atom.complex) this.fail('nested quantifiers or a repeated group with alternatives could run away');
    if (max > min) {
      this.budget *= max - min + 1;
      if (this.budget > VARIABLE_BUDGET) this.fail('too many variable-length repeats: matching could run away');
    }
    max = Math.min(max, REGEX_MAX_MATCH + 1);
    return {
      min: atom.min * min,
      max: atom.max * max,
      complex: atom.complex || max > 1,
      out: `${atom.out.length > 1 && !atom.out.startsWith('(') && !atom.out.startsWith('[') && !atom.out.startsWith('\\') ? `(?:${atom.out})` : atom.out}{${min},${max}}`,
    };
  }
}

export function compileByteRegex(source: string, ignoreCase: boolean): ByteRegex {
  if (source.length > 64 * 1024) throw new PatternError('the regex is longer than 65536 characters');
  if ([...source].some((c) => c.charCodeAt(0) > 0xff))
    throw new PatternError('regex: only characters U+0000 to U+00FF are allowed (it runs over bytes; write others as \\xHH bytes)');
  const p = new Parser(source);
  const node = p.alternation();
  if (p.pos < source.length) p.fail("unbalanced ')'");
  if (node.min === 0) throw new PatternError('regex: it can match an empty string');
  if (node.max > REGEX_MAX_MATCH) throw new PatternError(`regex: a match could be longer than ${REGEX_MAX_MATCH} bytes`);
  let regex: RegExp;
  try {
    regex = new RegExp(node.out, ignoreCase ? 'gsi' : 'gs');
  } catch (err) {
    throw new PatternError(`regex: ${(err as Error).message.replace(/^Invalid regular expression: /, '')}`);
  }
  regex.lastIndex = 0;
  const zeros = '\0'.repeat(node.max);
  const matchesZeros = regex.test(zeros);
  regex.lastIndex = 0;
  return { kind: 'regex', regex, minLength: node.min, maxLength: node.max, matchesZeros };
}
