/** The webview's Content Security Policy (pure, so it is unit-tested). */
import { randomBytes } from 'node:crypto';

/** A fresh nonce per webview load: 24 alphanumerics from 18 random bytes. */
export function nonce(): string {
  return randomBytes(18)
    .toString('base64')
    .replace(/[^A-Za-z0-9]/g, '');
}

/** Nothing by default; scripts only with the nonce; styles, fonts and images only from the extension's dist/. */
export function contentSecurityPolicy(cspSource: string, n: string): string {
  return ["default-src 'none'", `img-src ${cspSource} data:`, `font-src ${cspSource}`, `style-src ${cspSource} 'nonce-${n}'`, `script-src 'nonce-${n}'`].join(
    '; ',
  );
}
