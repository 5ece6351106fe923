// Bundles the extension-host mocha suite with esbuild: test/e2e/host/index.ts -> dist/test/host/index.js (exports
// run(), as @vscode/test-electron expects), every test/e2e/host/*.test.ts -> dist/test/host/*.test.js, and the
// Restricted Mode suite test/e2e/host/restricted/*.test.ts -> dist/test/host/restricted/*.test.js.
// `vscode` and `mocha` stay external: the extension host provides the first, node_modules the second.
import { build } from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const hostTestsOut = join(repo, 'dist/test/host');
export const hostTestsIndex = join(hostTestsOut, 'index.js');

export async function buildHostTests() {
  const src = join(repo, 'test/e2e/host');
  const restricted = join(src, 'restricted');
  const entries = [
    ...readdirSync(src)
      .filter((f) => f === 'index.ts' || f.endsWith('.test.ts'))
      .map((f) => join(src, f)),
    ...readdirSync(restricted)
      .filter((f) => f.endsWith('.test.ts'))
      .map((f) => join(restricted, f)),
  ];
  rmSync(hostTestsOut, { recursive: true, force: true });
  await build({
    entryPoints: entries,
    outdir: hostTestsOut,
    outbase: src,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    external: ['vscode', 'mocha', 'mocha/*'],
    logLevel: 'warning',
  });
  return hostTestsIndex;
}

if (process.argv[1] === fileURLToPath(import.meta.url))
  buildHostTests().catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
