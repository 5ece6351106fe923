/** The webview's CSP, and a guard that no webview code parses strings as HTML. */
import * as assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { contentSecurityPolicy, nonce } from '../../src/extension/csp';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('extension: webview safety', () => {
  it('has a strict CSP: no inline or eval scripts, nothing from outside the extension', () => {
    const n = nonce();
    assert.match(n, /^[A-Za-z0-9]{20,}$/);
    assert.notEqual(n, nonce());
    const csp = contentSecurityPolicy('https://file+.vscode-resource.vscode-cdn.net', n);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, new RegExp(`script-src 'nonce-${n}'(;|$)`));
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
  });

  it('never sets HTML from strings in the webview', () => {
    const root = join(__dirname, '../../webview');
    for (const f of files(root)) {
      const src = readFileSync(f, 'utf8');
      assert.doesNotMatch(src, /\.innerHTML\s*=|outerHTML\s*=|insertAdjacentHTML|document\.write\(|new DOMParser/, f);
    }
  });
});
