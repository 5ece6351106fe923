// `npm start`: builds the extension, makes a demo image (a two-layer chain with data, compressed and zeroed
// ranges) in .demo/, and opens it: in VS Code desktop when `code` is on PATH (as the extension under
// development), otherwise in code-server on 127.0.0.1 (installed on demand into .e2e/), printing the URL.
//   npm start [-- --browser]     force code-server even when `code` exists
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

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
const base = join(demo, 'base.qcow2');
const image = join(demo, 'demo.qcow2');
rmSync(demo, { recursive: true, force: true });
mkdirSync(demo);

/** Creates a qcow2 with our CLI when it has `create`, else with qemu-img. */
function create(path, size, backing) {
  const args = ['create', '-f', 'qcow2', ...(backing ? ['-b', backing, '-F', 'qcow2'] : []), path, size];
  const ours = spawnSync(process.execPath, ['dist/cli.js', ...args], { stdio: 'ignore' });
  if (ours.status === 0 && existsSync(path)) return 'our engine';
  // TODO: drop this fallback once `qcow2-inspector create` has landed everywhere.
  run('qemu-img', [...args.slice(0, 1), '-q', ...args.slice(1)], 'qemu-img create');
  return 'qemu-img';
}

console.log('start: making a demo image in .demo/');
const madeBy = create(base, '4G');
// Guest data. TODO: write it with our engine's write path when it has a CLI command; qemu-io until then.
if (!has('qemu-io')) {
  console.error('start: qemu-io is needed to fill the demo image (apt-get install qemu-utils)');
  process.exit(1);
}
run('qemu-io', ['-c', 'write -P 0x11 0 8M', '-c', 'write -c -P 0x22 64M 4M', '-c', 'write -P 0x33 1G 16M', '-c', 'write -P 0x44 3G 2M', base], 'qemu-io (base)', true);
create(image, '8G', 'base.qcow2');
run('qemu-io', ['-c', 'write -P 0x55 4M 2M', '-c', 'write -z 1G 4M', '-c', 'write -P 0x66 5G 32M', image], 'qemu-io (overlay)', true);
console.log(`start: .demo/demo.qcow2 (8 GiB, backing .demo/base.qcow2), created with ${madeBy}`);

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
