/**
 * Runs the extension-host mocha suites inside a real VS Code extension host: code-server serves the workbench,
 * Debian's Chromium opens it with `extensionDevelopmentPath` and `extensionTestsPath` in the payload, and the
 * workbench calls dist/test/host/index.js `run()`. Mocha's output comes back through `codeAutomationLog`, the
 * end through `codeAutomationExit`.
 *
 * Two suites, each in its own code-server and window:
 * - trusted:    test/e2e/host/*.test.ts, workspace trust disabled (every folder trusted);
 * - restricted: test/e2e/host/restricted/*.test.ts, workspace trust enabled and nothing trusted, so the folder is
 *               in Restricted Mode (`vscode.workspace.isTrusted` is false in the extension host).
 *
 *   node --import tsx scripts/e2e/run-host.ts        (npm run test:host)
 * Env: Q2I_HOST_GREP (mocha grep), Q2I_HOST_SUITES (comma list, default "trusted,restricted"),
 *      Q2I_HOST_TIMEOUT_S (each suite, default 600), MOCHA_COUNT_FILE (counts JSON, summed over the suites),
 *      Q2I_E2E_KEEP=1 (keep the servers' state folders and logs).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { buildHostTests } from './build-host-tests.mjs';
import { REPO, startCodeServer, type CodeServer } from './code-server';
import { launchBrowser, openWorkbench } from './workbench';

const COUNTS_MARKER = 'Q2I_HOST_COUNTS';
const REPORT_PREFIX = 'Q2I_HOST|';
const RESULTS = join(REPO, 'test-results');
const TIMEOUT_S = Number(process.env.Q2I_HOST_TIMEOUT_S ?? 600);

type Suite = 'trusted' | 'restricted';
interface Counts {
  passed: number;
  failed: number;
  skipped: number;
}

/** Everything else the workbench logs (including the extension's console output) goes to this file. */
function workbenchLogFile(suite: Suite): string {
  return join(RESULTS, suite === 'trusted' ? 'host-workbench.log' : 'host-restricted-workbench.log');
}

async function runSuite(browser: Browser, index: string, suite: Suite): Promise<Counts> {
  const workspace = mkdtempSync(join(tmpdir(), suite === 'trusted' ? 'q2i-host-ws-' : 'q2i-host-untrusted-ws-'));
  let server: CodeServer | undefined;
  let counts: Counts = { passed: 0, failed: 0, skipped: 0 };
  let sawCounts = false;
  const workbenchLog: string[] = [];
  const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
  try {
    server = await startCodeServer({ env: hostEnv(suite), workspaceTrust: suite === 'trusted' ? 'disabled' : 'restricted' });
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
    if (code === -1) console.error(`e2e host (${suite}): no result within ${TIMEOUT_S} s`);
    if (code === -2) console.error(`e2e host (${suite}): the extension host exited before the suite reported`);
    if (code !== 0 && !sawCounts) {
      // The suite never reported: a harness or load problem. Show what the window and the server looked like.
      const shots = join(RESULTS, 'screenshots');
      mkdirSync(shots, { recursive: true });
      await page.screenshot({ path: join(shots, `host-${suite}-suite-failure.png`) }).catch(() => {});
      console.error(`e2e host (${suite}): exit code ${code}; screenshot in test-results/screenshots/host-${suite}-suite-failure.png`);
      console.error(`code-server log tail:\n${server.logTail(20)}`);
    }
    if (!sawCounts) counts = { passed: 0, failed: 1, skipped: 0 }; // the suite never reported: count the run as one failure
    if (code !== 0 && counts.failed === 0) counts.failed = 1;
    return counts;
  } catch (err) {
    console.error(`e2e host (${suite}): ${(err as Error).message}`);
    if (server) console.error(`code-server log tail:\n${server.logTail(20)}`);
    counts = { passed: counts.passed, failed: Math.max(1, counts.failed), skipped: counts.skipped };
    return counts;
  } finally {
    mkdirSync(RESULTS, { recursive: true });
    writeFileSync(workbenchLogFile(suite), workbenchLog.join('\n') + '\n');
    if (counts.failed > 0)
      console.error(`e2e host (${suite}): the workbench's log (extension console output included) is in ${workbenchLogFile(suite).slice(REPO.length + 1)}`);
    console.log(`extension host (${suite}): ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
    await page.close().catch(() => {});
    server?.stop();
    rmSync(workspace, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const suites = (process.env.Q2I_HOST_SUITES ?? 'trusted,restricted').split(',').filter(Boolean) as Suite[];
  for (const s of suites) if (s !== 'trusted' && s !== 'restricted') throw new Error(`Q2I_HOST_SUITES: unknown suite "${s}"`);
  const total: Counts = { passed: 0, failed: 0, skipped: 0 };
  let browser: Browser | undefined;
  try {
    const index = await buildHostTests();
    browser = await launchBrowser();
    for (const suite of suites) {
      if (suites.length > 1) console.log(`\n── ${suite} workspace ${suite === 'restricted' ? '(Restricted Mode) ' : ''}──`);
      const c = await runSuite(browser, index, suite);
      total.passed += c.passed;
      total.failed += c.failed;
      total.skipped += c.skipped;
    }
  } catch (err) {
    console.error((err as Error).message);
    total.failed = Math.max(1, total.failed);
  } finally {
    await browser?.close().catch(() => {});
  }
  if (process.env.MOCHA_COUNT_FILE) writeFileSync(process.env.MOCHA_COUNT_FILE, JSON.stringify(total));
  console.log(`extension host: ${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
  return total.failed > 0 ? 1 : 0;
}

/** The suite to load and the grep, through the server's environment to the extension host (index.ts reads them). */
function hostEnv(suite: Suite): Record<string, string> {
  return { Q2I_HOST_SUITE: suite, ...(process.env.Q2I_HOST_GREP ? { Q2I_HOST_GREP: process.env.Q2I_HOST_GREP } : {}) };
}

main().then((code) => process.exit(code));
