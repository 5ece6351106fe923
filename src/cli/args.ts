/** A small qemu-img-style argument parser: `--name=value`, `--flag`, `-x value`, and positionals. */
export interface ParsedArgs {
  positional: string[];
  /** Long options (`--output=json` → output: 'json'; `--backing-chain` → 'backing-chain': 'true'). */
  long: Map<string, string>;
  /** Short options; each listed in `shortWithValue` takes the next argument. */
  short: Map<string, string>;
}

export class UsageError extends Error {}

export function parseArgs(argv: string[], shortWithValue: string, shortFlags = ''): ParsedArgs {
  const out: ParsedArgs = { positional: [], long: new Map(), short: new Map() };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      out.positional.push(...argv.slice(i + 1));
      break;
    }
    if (a.startsWith('--')) {
      const eq = a.indexOf('=');
      if (eq > 0) out.long.set(a.slice(2, eq), a.slice(eq + 1));
      else out.long.set(a.slice(2), 'true');
    } else if (a.length > 1 && a.startsWith('-') && !/^-\d/.test(a)) {
      const name = a[1];
      if (shortWithValue.includes(name)) {
        const value = a.length > 2 ? a.slice(2) : argv[++i];
        if (value === undefined) throw new UsageError(`option -${name} needs a value`);
        out.short.set(name, value);
      } else if (shortFlags.includes(name)) out.short.set(name, 'true');
      else throw new UsageError(`unknown option ${a}`);
    } else out.positional.push(a);
  }
  return out;
}

/** The --output format: 'human' (default) or 'json'. */
export function outputFormat(args: ParsedArgs): 'human' | 'json' {
  const v = args.long.get('output') ?? args.short.get('O') ?? 'human';
  if (v !== 'human' && v !== 'json') throw new UsageError(`--output must be human or json, not '${v}'`);
  return v;
}

/** Parses a size or offset: plain bytes, or with a k/M/G/T/P/E suffix (powers of 1024) as qemu-img does. */
export function parseSize(text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kKmMgGtTpPeE]?)[bB]?$/.exec(text.trim());
  if (!m) throw new UsageError(`invalid ${what} '${text}'`);
  const exp = ' kmgtpe'.indexOf(m[2].toLowerCase() || ' ');
  const v = Number(m[1]) * 1024 ** exp;
  if (!Number.isSafeInteger(v)) throw new UsageError(`${what} '${text}' is out of range`);
  return v;
}

/** Parses `-o key=value,key=value`. */
export function parseOptionList(text: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (!text) return out;
  for (const part of text.split(',')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    if (eq < 0) out.set(part, 'on');
    else out.set(part.slice(0, eq), part.slice(eq + 1));
  }
  return out;
}

export function requirePositionals(args: ParsedArgs, names: string[], optional = 0): string[] {
  const n = args.positional.length;
  if (n < names.length - optional || n > names.length) throw new UsageError(`expected ${names.join(' ')}`);
  return args.positional;
}
