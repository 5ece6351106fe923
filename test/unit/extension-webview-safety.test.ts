/** The webview's CSP, and a guard that no webview code parses strings as HTML. */
import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { contentSecurityPolicy, nonce } from '../../src/extension/csp';
import { tsFilesUnder } from '../helpers/files';

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
    for (const f of tsFilesUnder(root)) {
      const src = readFileSync(f, 'utf8');
      assert.doesNotMatch(src, /\.innerHTML\s*=|outerHTML\s*=|insertAdjacentHTML|document\.write\(|new DOMParser/, f);
    }
  });
});
