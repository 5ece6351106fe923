/**
 * Playwright harness for UI tests in a real VS Code (code-server 1.139 + Debian's Chromium), with this repo
 * loaded as the extension under development. See /work/shared/e2e-recipe.md.
 *
 * Conventions for test authors:
 * - Put UI tests in `test/e2e/ui/NAME.ui.ts` (mocha bdd). `npm test` runs them all after the extension-host
 *   suite; run them alone with `npm run test:ui` (or `npm run test:ui -- test/e2e/ui/NAME.ui.ts`).
 * - In `before()`: `wb = await launch()`; put fixtures in `wb.workspace` (made with qemu-img at test time);
 *   in `after()`: `await wb?.close()`. One code-server and one Chromium are shared by the whole run; each
 *   `launch()` is a new window (its own extension host) on its own workspace folder.
 * - `launch({ workspaceTrust: 'restricted' })` opens the folder in Restricted Mode instead (a second code-server,
 *   started on first use, with workspace trust on and nothing trusted): for the untrusted-workspace tests.
 * - Save screenshots with `wb.screenshot('feature-state')` → test-results/screenshots/feature-state.png.
 *   They are the reviewer's view of what a person sees: take one at each meaningful state.
 * - Webviews are two nested iframes; use `wb.webview()` (a FrameLocator into the extension's HTML).
 * - `openFile`/`runCommand` move focus out of a focused webview first (it would swallow Ctrl+P and F1).
 * - With enable-smoke-test-driver, notifications show no toasts: read them with `wb.notifications()`.
 * - `innerText` only sees rendered text: open a section/tab before reading it.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, BrowserContext, FrameLocator, Page } from 'playwright-core';
import { REPO, startCodeServer, type CodeServer } from '../../../scripts/e2e/code-server';
import { launchBrowser, openWorkbench } from '../../../scripts/e2e/workbench';

export const SCREENSHOTS = join(REPO, 'test-results/screenshots');

export interface Workbench {
  page: Page;
  /** This window's workspace folder (a fresh temp folder unless given); put fixtures here. */
  workspace: string;
  server: CodeServer;
  /** Ctrl+P, type the file name, pick the row, wait for the editor tab. */
  openFile(name: string): Promise<void>;
  /** F1, type the command title, pick the row. */
  runCommand(title: string): Promise<void>;
  /** The extension's HTML inside the (first, or `index`th) webview: iframe.webview > iframe#active-frame. */
  webview(index?: number): FrameLocator;
  /** Texts of the notifications currently in the notification center. */
  notifications(): Promise<string[]>;
  /** Waits until a notification containing `text` exists, and returns its full text. */
  waitForNotification(text: string | RegExp, timeoutMs?: number): Promise<string>;
  /** Saves a PNG of the whole window to test-results/screenshots/NAME.png and returns its path. */
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

/** Closes every editor tab with its close button (the palette is flaky while a webview has focus). */
export async function closeAllEditors(wb: Workbench): Promise<void> {
  const close = wb.page.locator('.tabs-container .tab .tab-actions .action-label');
  for (let i = 0; i < 10 && (await close.count()) > 0; i++) {
    await close.first().click({ force: true });
    await wb.page.waitForTimeout(200);
  }
}

/**
 * Quick Open, or (when Enter picked another row of its history under load, so the tab never came) a click in the
 * Explorer. (wb.openFile itself falls back to the Explorer when Quick Open lists nothing.)
 */
export async function openFileRobustly(wb: Workbench, file: string): Promise<void> {
  try {
    await wb.openFile(file);
  } catch {
    await wb.page.keyboard.press('Escape');
    await wb.page.locator('.explorer-folders-view .monaco-list-row', { hasText: file }).first().click();
    await wb.page.locator(`.tabs-container [role="tab"][aria-label*="${file}"]`).first().waitFor({ state: 'visible', timeout: 30_000 });
  }
}

/** Opens an image and its Hex tab, and waits for the first rows. */
export async function openHexTab(wb: Workbench, file: string): Promise<FrameLocator> {
  await openFileRobustly(wb, file);
  const view = wb.webview();
  await view.locator('vscode-tab-header[data-tab="hex"]').click({ timeout: 30_000 });
  await view.locator('.hx-root .hx-rows > .hx-row').first().waitFor({ state: 'visible', timeout: 30_000 });
  return view;
}

type WorkspaceTrust = 'disabled' | 'restricted';
let browserShared: Promise<Browser> | undefined;
const servers = new Map<string, Promise<CodeServer>>();

/**
 * Starts (once per run) Chromium, and code-server once per trust mode: 'disabled' (every folder trusted) for
 * most tests, 'restricted' (workspace trust on, nothing trusted) for the Restricted Mode tests. They stop when
 * the process exits.
 */
async function sharedSession(trust: WorkspaceTrust, vsix?: string): Promise<{ server: CodeServer; browser: Browser }> {
  browserShared ??= launchBrowser();
  const key = vsix ? `vsix:${vsix}` : trust;
  let server = servers.get(key);
  if (!server) {
    server = startCodeServer({ workspaceTrust: trust, vsix }).then((s) => {
      process.once('exit', () => s.stop());
      return s;
    });
    servers.set(key, server);
  }
  const [s, browser] = await Promise.all([server, browserShared]);
  return { server: s, browser };
}

export interface LaunchOptions {
  /** Use this folder as the workspace instead of a fresh temp folder (it is then not deleted on close). */
  workspace?: string;
  viewport?: { width: number; height: number };
  /**
   * 'restricted': open the folder in Restricted Mode (workspace trust on, the folder not trusted) in a code-server
   * of its own; `vscode.workspace.isTrusted` is false in that window's extension host. Default 'disabled'.
   */
  workspaceTrust?: WorkspaceTrust;
  /** Run this installed .vsix (code-server --install-extension) instead of the repository under development. */
  vsix?: string;
}

export async function launch(opts: LaunchOptions = {}): Promise<Workbench> {
  const { server, browser } = await sharedSession(opts.workspaceTrust ?? 'disabled', opts.vsix);
  const ownWorkspace = !opts.workspace;
  const workspace = opts.workspace ?? mkdtempSync(join(tmpdir(), 'q2i-ui-ws-'));
  const context: BrowserContext = await browser.newContext({ viewport: opts.viewport ?? { width: 1400, height: 900 } });
  const page = await context.newPage();
  await openWorkbench(page, server.workbenchUrl(workspace), undefined, server.devHost);

  // A focused webview swallows keys (Ctrl+P, F1 never reach the workbench): move focus to a neutral part first.
  const focusWorkbench = async () => {
    const inWebview = await page.evaluate(() => document.activeElement?.tagName === 'IFRAME');
    if (!inWebview) return;
    for (const sel of ['.part.sidebar .composite.title', '.part.titlebar', '.part.statusbar']) {
      const target = page.locator(sel).first();
      if (await target.isVisible()) {
        await target.click({ position: { x: 5, y: 5 } });
        return;
      }
    }
  };

  const quickPick = async (prefixKey: string, text: string) => {
    const input = page.locator('.quick-input-widget input');
    for (let attempt = 0; ; attempt++) {
      await focusWorkbench();
      await page.keyboard.press(prefixKey);
      try {
        await input.waitFor({ state: 'visible', timeout: 5_000 });
        break;
      } catch (err) {
        if (attempt === 2) throw err;
      }
    }
    await page.keyboard.type(text);
    const row = page.locator('.quick-input-widget .monaco-list-row', { hasText: text }).first();
    await row.waitFor({ state: 'visible', timeout: 30_000 });
    await page.keyboard.press('Enter');
  };

  const notifications = async () => {
    const center = page.locator('.notifications-center');
    if (!(await center.isVisible())) await page.locator('[id="status.notifications"]').click();
    await center.waitFor({ state: 'visible', timeout: 5_000 });
    return page.locator('.notifications-center .notification-list-item-message').allInnerTexts();
  };

  return {
    page,
    workspace,
    server,
    async openFile(name) {
      const tab = page.locator(`.tabs-container [role="tab"][aria-label*="${name}"]`).first();
      try {
        await quickPick('Control+P', name);
      } catch (err) {
        // Under load Quick Open sometimes lists nothing for a while (its file index lags): a click in the Explorer.
        await page.keyboard.press('Escape');
        const row = page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).first();
        if (!(await row.isVisible().catch(() => false))) throw err;
        await row.click();
      }
      await tab.waitFor({ state: 'visible', timeout: 30_000 });
    },
    async runCommand(title) {
      await quickPick('F1', title);
    },
    webview(index = 0) {
      return page.locator('iframe.webview').nth(index).contentFrame().frameLocator('iframe#active-frame');
    },
    notifications,
    async waitForNotification(text, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = (await notifications()).find((t) => (typeof text === 'string' ? t.includes(text) : text.test(t)));
        if (found !== undefined) return found;
        if (Date.now() > deadline) throw new Error(`no notification matching ${text} within ${timeoutMs} ms`);
        await page.waitForTimeout(250);
      }
    },
    async screenshot(name) {
      mkdirSync(SCREENSHOTS, { recursive: true });
      const path = join(SCREENSHOTS, `${name}.png`);
      await page.screenshot({ path });
      return path;
    },
    async close() {
      await context.close().catch(() => {});
      if (ownWorkspace) rmSync(workspace, { recursive: true, force: true });
    },
  };
}
