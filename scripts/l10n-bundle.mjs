// Regenerates l10n/bundle.l10n.json (English, key = text) from the t('…') calls in src/extension and webview.
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const files = [];
const walk = (d) => {
  for (const f of readdirSync(d)) {
    const p = join(d, f);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts')) files.push(p);
  }
};
walk('src/extension');
walk('webview');
const keys = new Set();
const re = /\bt\(\s*(["'])((?:\\.|(?!\1).)*)\1/g;
for (const f of files) for (const m of readFileSync(f, 'utf8').matchAll(re)) keys.add(m[2].replace(/\\'/g, "'"));
const out = Object.fromEntries([...keys].sort().map((k) => [k, k]));
writeFileSync('l10n/bundle.l10n.json', `${JSON.stringify(out, null, 2)}\n`);
console.log(`l10n/bundle.l10n.json: ${keys.size} strings`);
