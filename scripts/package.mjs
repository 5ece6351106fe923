// `npm run package`: builds the extension and packs qcow2-inspector-VERSION.vsix with vsce, offline.
// The details page shows a README made for the package (.tmp/package/README.md): the repository README without its
// screenshot table, whose relative images cannot be served (the project has no public repository or web site, so
// package.json names none, and --baseImagesUrl would point nowhere). vsce then needs --allow-missing-repository, which
// only waives the missing `repository` field: vsce still fails on any relative link or image left in the README.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageReadme } from './package-readme.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(repo);
const skipBuild = process.argv.includes('--no-build');

function run(cmd, args) {
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!skipBuild) run('npm', ['run', '--silent', 'build']);
const readme = join(repo, '.tmp/package/README.md');
mkdirSync(dirname(readme), { recursive: true });
writeFileSync(readme, packageReadme(readFileSync('README.md', 'utf8')));
const out = process.argv.find((a) => a.startsWith('--out='))?.slice('--out='.length);
run(process.execPath, [
  join(repo, 'node_modules/@vscode/vsce/vsce'),
  'package',
  '--no-dependencies',
  '--allow-missing-repository',
  '--readme-path',
  relative(repo, readme),
  ...(out ? ['--out', out] : []),
]);
