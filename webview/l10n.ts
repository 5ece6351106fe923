/** Webview strings: looked up in the host's l10n bundle (keyed by English text), English otherwise. */
let bundle: Record<string, string> = {};

export function setBundle(b: Record<string, string>): void {
  bundle = b;
}

/** t('Found {0} leaks', n): the localised text with {n} placeholders filled. */
export function t(key: string, ...args: (string | number)[]): string {
  const s = bundle[key] ?? key;
  return s.replace(/\{(\d+)\}/g, (m, i) => (args[Number(i)] !== undefined ? String(args[Number(i)]) : m));
}
