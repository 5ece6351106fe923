/**
 * The LVM2 text metadata format (lib/format_text in LVM2): `name = value`, `name { ... }`, values are numbers,
 * strings or [lists]. Parsed into plain objects with bounded size and nesting; `#` starts a comment.
 */
import { GuestFsError } from '../types';

export type LvmValue = number | string | LvmValue[] | LvmSection;
export interface LvmSection {
  [key: string]: LvmValue;
}

const MAX_DEPTH = 16;
const MAX_TEXT = 16 * 1024 * 1024;

export function parseLvmText(text: string): LvmSection {
  if (text.length > MAX_TEXT) throw new GuestFsError('too-large', `LVM metadata of ${text.length} bytes`);
  let at = 0;
  const fail = (why: string): never => {
    throw new GuestFsError('bad-fs', `LVM metadata: ${why} at character ${at}`);
  };
  const skip = (): void => {
    for (;;) {
      while (at < text.length && /\s/.test(text[at])) at++;
      if (text[at] !== '#') return;
      while (at < text.length && text[at] !== '\n') at++;
    }
  };
  const ident = (): string => {
    const m = /^[A-Za-z0-9_.+-]+/.exec(text.slice(at, at + 256));
    if (!m) return fail('expected a name');
    at += m[0].length;
    return m[0];
  };
  const value = (depth: number): LvmValue => {
    skip();
    const c = text[at];
    if (c === '"') {
      let s = '';
      at++;
      while (at < text.length && text[at] !== '"') {
        if (text[at] === '\\') at++;
        s += text[at++];
      }
      if (at >= text.length) fail('unterminated string');
      at++;
      return s;
    }
    if (c === '[') {
      if (depth > MAX_DEPTH) fail('nesting too deep');
      at++;
      const list: LvmValue[] = [];
      for (;;) {
        skip();
        if (text[at] === ']') {
          at++;
          return list;
        }
        list.push(value(depth + 1));
        skip();
        if (text[at] === ',') at++;
        else if (text[at] !== ']') fail('expected , or ]');
      }
    }
    const m = /^-?\d+(\.\d+)?/.exec(text.slice(at, at + 32));
    if (!m) return fail('expected a value');
    at += m[0].length;
    return Number(m[0]);
  };
  const section = (depth: number, top: boolean): LvmSection => {
    if (depth > MAX_DEPTH) fail('nesting too deep');
    const out: LvmSection = Object.create(null) as LvmSection;
    for (;;) {
      skip();
      if (at >= text.length || text[at] === '\0') {
        if (top) return out;
        fail('unexpected end');
      }
      if (text[at] === '}') {
        if (top) fail('unexpected }');
        at++;
        return out;
      }
      const key = ident();
      skip();
      if (text[at] === '{') {
        at++;
        out[key] = section(depth + 1, false);
      } else if (text[at] === '=') {
        at++;
        out[key] = value(depth + 1);
      } else fail(`expected = or { after '${key}'`);
    }
  };
  return section(0, true);
}
