// Bundles the extension host, the webview and the CLI with esbuild.
import { build } from 'esbuild';
import { mkdirSync, copyFileSync, chmodSync } from 'node:fs';

const watch = process.argv.includes('--watch');
const common = { bundle: true, sourcemap: true, logLevel: 'warning', minify: false };

const targets = [
  { entryPoints: ['src/extension/extension.ts'], outfile: 'dist/extension.js', platform: 'node', format: 'cjs', target: 'node20', external: ['vscode'] },
  // Minified: a CLI run is often a few tens of ms, and parsing a smaller bundle saves a few of them (source map kept).
  {
    entryPoints: ['src/cli/cli.ts'],
    outfile: 'dist/cli.js',
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    banner: { js: '#!/usr/bin/env node' },
    minify: true,
  },
  { entryPoints: ['webview/main.ts'], outfile: 'dist/webview.js', platform: 'browser', format: 'iife', target: 'es2022' },
];

await Promise.all(targets.map((t) => build({ ...common, ...t })));
chmodSync('dist/cli.js', 0o755);
mkdirSync('dist/media', { recursive: true });
copyFileSync('node_modules/@vscode/codicons/dist/codicon.css', 'dist/media/codicon.css');
copyFileSync('node_modules/@vscode/codicons/dist/codicon.ttf', 'dist/media/codicon.ttf');
copyFileSync('media/editor.css', 'dist/media/editor.css');
if (watch) console.log('watch mode is not supported; rerun npm run build');
