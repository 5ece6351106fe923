// Runs the extension-host mocha suite (test/e2e/host/*.test.ts) in VS Code desktop with @vscode/test-electron,
// for machines that have it. Same suite and same dist/test/host/index.js run() as the code-server runner
// (scripts/e2e/run-host.ts), which is what `npm test` uses here, where VS Code desktop cannot be downloaded.
// Only the trusted suite: the Restricted Mode suite (test/e2e/host/restricted/) runs under run-host.ts.
//   node scripts/e2e/run-electron.mjs            (downloads VS Code stable into .vscode-test/ unless
//   VSCODE_EXECUTABLE=/path/to/code is set)
import { runTests } from '@vscode/test-electron';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildHostTests } from './build-host-tests.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const index = await buildHostTests();
const workspace = mkdtempSync(join(tmpdir(), 'q2i-host-ws-'));
const userData = mkdtempSync(join(tmpdir(), 'q2i-vscode-user-'));
try {
  await runTests({
    extensionDevelopmentPath: repo,
    extensionTestsPath: index,
    ...(process.env.VSCODE_EXECUTABLE ? { vscodeExecutablePath: process.env.VSCODE_EXECUTABLE } : {}),
    launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust', '--skip-welcome', '--user-data-dir', userData],
  });
} catch (err) {
  console.error(`extension-host tests failed: ${err instanceof Error ? err.message : err}`);
  process.exitCode = 1;
} finally {
  rmSync(workspace, { recursive: true, force: true });
  rmSync(userData, { recursive: true, force: true });
}
