/**
 * Runs the extension-host mocha suite (test/e2e/host/*.test.ts) inside a real VS Code extension host:
 * code-server serves the workbench, Debian's Chromium opens it with `extensionDevelopmentPath` and
 * `extensionTestsPath` in the payload, and the workbench calls dist/test/host/index.js `run()`.
 * Mocha's output comes back through `codeAutomationLog`, the end through `codeAutomationExit`.
 *
 *   node --import tsx scripts/e2e/run-host.ts        (npm run test:host)
 * Env: Q2I_HOST_GREP (mocha grep), Q2I_HOST_TIMEOUT_S (whole run, default 600), MOCHA_COUNT_FILE (counts JSON),
 *      Q2I_E2E_KEEP=1 (keep the server's state folder and logs).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildHostTests } from './build-host-tests.mjs';
import { REPO, startCodeServer, type CodeServer } from './code-server';
import { launchBrowser, openWorkbench } from './workbench';

const COUNTS_MARKER = 'Q2I_HOST_COUNTS';
const REPORT_PREFIX = 'Q2I_HOST|';
const RESULTS = join(REPO, 'test-results');
/** Everything else the workbench logs (including the extension's console output) goes to this file. */
const WORKBENCH_LOG = join(RESULTS, 'host-workbench.log');
const TIMEOUT_S = Number(process.env.Q2I_HOST_TIMEOUT_S ?? 600);

async function main(): Promise<number> {
  const index = await buildHostTests();
  const workspace = mkdtempSync(join(tmpdir(), 'q2i-host-ws-'));
  let server: CodeServer | undefined;
  let counts = { passed: 0, failed: 0, skipped: 0 };
  let sawCounts = false;
  const workbenchLog: string[] = [];
  const browser = await launchBrowser();
  try {
    server = await startCodeServer({ env: hostEnv() });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    let exitCode: (code: number) => void = () => {};
    const exited = new Promise<number>((r) => (exitCode = r));
    await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => {
      const text = (Array.isArray(args) ? args : [args]).map((a) => (typeof a === 'string' ? a : JSON.stringify(a))).join(' ');
      for (const line of text.split('\n')) {
        if (line.startsWith(COUNTS_MARKER)) {
          counts = JSON.parse(line.slice(COUNTS_MARKER.length));
          sawCounts = true;
        } else if (line.startsWith(REPORT_PREFIX)) process.stdout.write(`${line.slice(REPORT_PREFIX.length)}\n`);
        else workbenchLog.push(`[${type}] ${line}`);
      }
    });
    await page.exposeFunction('codeAutomationExit', (code: number) => exitCode(code));
    await openWorkbench(page, server.workbenchUrl(workspace, { extensionTestsPath: index }));

    const timeout = new Promise<number>((r) => setTimeout(() => r(-1), TIMEOUT_S * 1000).unref());
    // An extension host that dies before reporting would otherwise cost the whole timeout.
    const srv = server;
    const hostDied = new Promise<number>((r) => {
      const t = setInterval(() => {
        if (/Extension Host Process exited/.test(srv.logTail(200))) {
          clearInterval(t);
          setTimeout(() => r(-2), 3000).unref(); // grace: a normal end also logs this, just after the exit call
        }
      }, 1000);
      t.unref();
    });
    const code = await Promise.race([exited, timeout, hostDied]);
    if (code === -1) console.error(`e2e host: no result within ${TIMEOUT_S} s`);
    if (code === -2) console.error('e2e host: the extension host exited before the suite reported');
    if (code !== 0 && !sawCounts) {
      // The suite never reported: a harness or load problem. Show what the window and the server looked like.
      const shots = join(RESULTS, 'screenshots');
      mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: join(shots, 'host-suite-failure.png') }).catch(() => {});
      console.error(`e2e host: exit code ${code}; screenshot in test-results/screenshots/host-suite-failure.png`);
      console.error(`code-server log tail:\n${server.logTail(20)}`);
    }
    if (!sawCounts) counts = { passed: 0, failed: 1, skipped: 0 }; // the suite never reported: count the run as one failure
    if (code !== 0 && counts.failed === 0) counts.failed = 1;
    return counts.failed > 0 ? 1 : 0;
  } catch (err) {
    console.error((err as Error).message);
    if (server) console.error(`code-server log tail:\n${server.logTail(20)}`);
    counts = { passed: counts.passed, failed: Math.max(1, counts.failed), skipped: counts.skipped };
    return 1;
  } finally {
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(WORKBENCH_LOG, workbenchLog.join('\n') + '\n');
    if (counts.failed > 0) console.error(`e2e host: the workbench's log (extension console output included) is in test-results/host-workbench.log`);
    if (process.env.MOCHA_COUNT_FILE) writeFileSync(process.env.MOCHA_COUNT_FILE, JSON.stringify(counts));
    console.log(`extension host: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
    await browser.close().catch(() => {});
    server?.stop();
    rmSync(workspace, { recursive: true, force: true });
  }
}

/** Passes the grep through the server's environment to the extension host, where index.ts reads it. */
function hostEnv(): Record<string, string> {
  return process.env.Q2I_HOST_GREP ? { Q2I_HOST_GREP: process.env.Q2I_HOST_GREP } : {};
}

main().then((code) => process.exit(code));
