// Builds the optional SEEK_DATA/SEEK_HOLE addon (src/native/seek.c) into dist/native/qcow2_seek.node.
// Compiles with the system C compiler against the Node-API headers installed with Node (no download),
// falling back to node-gyp. Never fails the build: without the addon the engine treats files as fully
// allocated (see README, "Holes").
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, copyFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

const out = 'dist/native/qcow2_seek.node';
mkdirSync(dirname(out), { recursive: true });
const prefix = dirname(dirname(process.execPath));
const includeDirs = [join(prefix, 'include/node'), '/usr/include/node', '/usr/local/include/node'].filter((d) => existsSync(join(d, 'node_api.h')));

function tryCc() {
  if (includeDirs.length === 0) return 'no node_api.h found';
  try {
    execFileSync(
      process.env.CC || 'cc',
      ['-shared', '-fPIC', '-O2', '-Wall', '-DNODE_GYP_MODULE_NAME=qcow2_seek', '-DNAPI_VERSION=8', `-I${includeDirs[0]}`, 'src/native/seek.c', '-o', out],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    return undefined;
  } catch (e) {
    return String(e.stderr || e.message).split('\n')[0];
  }
}

function tryNodeGyp() {
  const gyp = join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
  if (!existsSync(gyp)) return 'node-gyp not found';
  try {
    execFileSync(process.execPath, [gyp, 'rebuild', '--directory', 'src/native', `--nodedir=${prefix}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    copyFileSync('src/native/build/Release/qcow2_seek.node', out);
    return undefined;
  } catch (e) {
    return String(e.stderr || e.message).split('\n')[0];
  }
}

const ccErr = tryCc();
if (ccErr) {
  const gypErr = tryNodeGyp();
  if (gypErr) console.warn(`warning: hole detection addon not built (${ccErr}; ${gypErr}); files will be treated as fully allocated`);
}
