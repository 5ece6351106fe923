/**
 * Extension-host mocha suite entry: VS Code loads the bundled `dist/test/host/index.js` as `extensionTestsPath`
 * and calls `run()` inside the real extension host, with the real `vscode` API.
 *
 * Conventions for test authors:
 * - Put tests in `test/e2e/host/NAME.test.ts` (mocha bdd: describe/it). Each is bundled on its own by
 *   scripts/e2e/build-host-tests.mjs; import `vscode`, node builtins, and helpers from `./util` or `src/`.
 * - Make fixtures at test time (qemu-img/qemu-io via `./util`), under os.tmpdir(); never commit images.
 * - Runs here: `npm run test:host` (code-server + Chromium, see scripts/e2e/run-host.ts) and, where VS Code
 *   desktop exists, `node scripts/e2e/run-electron.mjs` (@vscode/test-electron). Same files, same `run()`.
 * - `Q2I_HOST_GREP=pattern` runs only the matching tests.
 * - Tests of an untrusted workspace go in `test/e2e/host/restricted/NAME.test.ts`: scripts/e2e/run-host.ts runs
 *   them in a second window whose folder is in Restricted Mode (workspace trust on, nothing trusted), with
 *   `Q2I_HOST_SUITE=restricted` in the extension host's environment, which makes run() load that folder instead.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { format } from 'node:util';

/** Printed as the last line so the runner can count the results from the forwarded log. */
export const COUNTS_MARKER = 'Q2I_HOST_COUNTS';
/** Prefix of mocha's report lines, so the runner can tell them from the workbench's own log. */
export const REPORT_PREFIX = 'Q2I_HOST|';

export function run(): Promise<void> {
  // mocha/lib/mocha.cjs: mocha's package entry is ESM, which older extension hosts cannot require.
  const Mocha = require('mocha/lib/mocha.cjs');
  // Format here (the forwarded log does not apply printf patterns) and tag each line for the runner.
  Mocha.reporters.Base.consoleLog = (...args: unknown[]) => {
    for (const line of format(...args).split('\n')) console.log(`${REPORT_PREFIX}${line}`);
  };
  const mocha = new Mocha({ ui: 'bdd', color: false, timeout: 60_000, reporter: 'spec' });
  if (process.env.Q2I_HOST_GREP) mocha.grep(process.env.Q2I_HOST_GREP);
  const dir = process.env.Q2I_HOST_SUITE === 'restricted' ? join(__dirname, 'restricted') : __dirname;
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.test.js'))
    .sort();
  for (const f of files) mocha.addFile(join(dir, f));

  return new Promise((resolve, reject) => {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    try {
      const runner = mocha.run((failures: number) => {
        console.log(`${COUNTS_MARKER} ${JSON.stringify(counts)}`);
        if (failures > 0) reject(new Error(`${failures} extension-host tests failed`));
        else resolve();
      });
      runner.on('pass', () => counts.passed++);
      runner.on('fail', () => counts.failed++);
      runner.on('pending', () => counts.skipped++);
    } catch (err) {
      console.log(`${COUNTS_MARKER} ${JSON.stringify({ passed: 0, failed: 1, skipped: 0 })}`);
      reject(err);
    }
  });
}
