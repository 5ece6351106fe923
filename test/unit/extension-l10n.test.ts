/** Localisation bundles stay in step with the strings the code asks for. */
import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tsFilesUnder } from '../helpers/files';

const ROOT = join(__dirname, '../..');
const json = (p: string) => JSON.parse(readFileSync(join(ROOT, p), 'utf8')) as Record<string, string>;

describe('extension: localisation', () => {
  it('the English bundle has every string the editor code translates', () => {
    const bundle = json('l10n/bundle.l10n.json');
    const files = [
      ...tsFilesUnder(join(ROOT, 'src/extension')),
      ...readdirSync(join(ROOT, 'webview'))
        .filter((f) => f.endsWith('.ts'))
        .map((f) => join(ROOT, 'webview', f)),
      ...tsFilesUnder(join(ROOT, 'webview/views')),
    ];
    const missing: string[] = [];
    for (const f of files) {
      const src = readFileSync(f, 'utf8');
      for (const m of src.matchAll(/\bt\(\s*'((?:\\'|[^'])*)'/g)) {
        const key = m[1].replace(/\\'/g, "'");
        if (!(key in bundle)) missing.push(`${f}: ${key}`);
      }
    }
    assert.deepEqual(missing, [], 'run: node scripts/l10n-bundle.mjs');
  });

  it('translations only use known keys and keep their placeholders', () => {
    const en = json('l10n/bundle.l10n.json');
    const de = json('l10n/bundle.l10n.de.json');
    for (const [k, v] of Object.entries(de)) {
      assert.ok(k in en, `unknown key ${k}`);
      assert.deepEqual(v.match(/\{\d+\}/g)?.sort() ?? [], k.match(/\{\d+\}/g)?.sort() ?? [], k);
    }
    const nls = json('package.nls.json');
    const nlsDe = json('package.nls.de.json');
    for (const k of Object.keys(nlsDe)) assert.ok(k in nls, `unknown manifest key ${k}`);
    const manifest = readFileSync(join(ROOT, 'package.json'), 'utf8');
    for (const m of manifest.matchAll(/"%([^%]+)%"/g)) assert.ok(m[1] in nls, `package.json uses %${m[1]}% without a package.nls.json entry`);
  });
});
