// `npm start`: builds the extension, makes the demo images in .demo/ with our own CLI (scripts/demo/make-demo.mjs:
// a three-layer chain over a raw GPT disk, with compressed and zero clusters, an internal snapshot and a persistent
// bitmap; no qemu-utils needed), and opens them:
// in VS Code desktop when `code` is on PATH (as the extension under development), otherwise in code-server on
// 127.0.0.1 (installed on demand into .e2e/), printing the URL.
//   npm start [-- --browser]     force code-server even when `code` exists
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeDemo } from './demo/make-demo.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(repo);
const forceBrowser = process.argv.includes('--browser');

function run(cmd, args, what, quiet = false) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', quiet ? 'ignore' : 'inherit', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) {
    console.error(`start: ${what} failed: ${(r.stderr || r.error?.message || '').trim()}`);
    process.exit(1);
  }
}
const has = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;

console.log('start: building');
run('npm', ['run', '--silent', 'build'], 'npm run build');

const demo = join(repo, '.demo');
console.log('start: making the demo images in .demo/ with our CLI (scripts/demo/make-demo.mjs)');
let image;
try {
  ({ image } = makeDemo(demo));
} catch (err) {
  console.error(`start: making the demo failed: ${err.message}`);
  process.exit(1);
}
console.log(
  'start: .demo/demo.qcow2 (4 GiB; snapshot before-cleanup, bitmap backup-0 with the writes since it) → mid.qcow2 (compressed clusters) → base.raw (2 GiB GPT disk, raw)',
);

if (has('code') && !forceBrowser) {
  console.log('start: opening it in VS Code (Extension Development Host)');
  const r = spawnSync('code', ['--new-window', `--extensionDevelopmentPath=${repo}`, demo, image], { stdio: 'inherit' });
  process.exit(r.status ?? 0);
}

if (!existsSync(join(repo, '.e2e/code-server/node_modules/code-server/out/node/entry.js'))) {
  console.log('start: `code` is not on PATH; installing code-server into .e2e/ (about 2 minutes, once)');
  run('bash', ['scripts/e2e/install.sh'], 'installing code-server');
}
const serve = spawn(process.execPath, ['--import', 'tsx', 'scripts/e2e/serve.ts', demo, image], { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM']) process.on(sig, () => serve.kill(sig));
serve.on('exit', (code) => process.exit(code ?? 0));
