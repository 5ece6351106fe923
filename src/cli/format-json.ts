/**
 * JSON text exactly as QEMU's pretty JSON writer (qobject/json-writer.c) produces it: four-space indents,
 * empty containers split over two lines, and every character outside printable ASCII as \uXXXX.
 */
export function qemuJson(value: unknown): string {
  const out: string[] = [];
  write(value, 0, out);
  return out.join('');
}

function write(v: unknown, level: number, out: string[]): void {
  if (Array.isArray(v)) {
    out.push('[');
    v.forEach((item, i) => {
      out.push(i > 0 ? ',' : '', '\n', ' '.repeat((level + 1) * 4));
      write(item, level + 1, out);
    });
    out.push('\n', ' '.repeat(level * 4), ']');
  } else if (v !== null && typeof v === 'object') {
    out.push('{');
    Object.entries(v as Record<string, unknown>)
      .filter(([, x]) => x !== undefined)
      .forEach(([k, x], i) => {
        out.push(i > 0 ? ',' : '', '\n', ' '.repeat((level + 1) * 4), quote(k), ': ');
        write(x, level + 1, out);
      });
    out.push('\n', ' '.repeat(level * 4), '}');
  } else if (typeof v === 'string') out.push(quote(v));
  else out.push(String(v));
}

const ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function quote(s: string): string {
  let r = '"';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    const code = s.charCodeAt(i);
    if (ESCAPES[ch]) r += ESCAPES[ch];
    else if (code < 0x20 || code >= 0x7f) r += '\\u' + code.toString(16).toUpperCase().padStart(4, '0');
    else r += ch;
  }
  return r + '"';
}
