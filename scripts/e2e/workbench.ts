/** Debian's Chromium driven by playwright-core, and opening a code-server workbench in it. */
import { chromium, type Browser, type Page } from 'playwright-core';
import { CHROMIUM } from './code-server';

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    // Playwright refuses --user-data-dir and already uses a fresh profile.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/**
 * Opens a workbench URL and waits until the window is an Extension Development Host (proof that this repo was
 * loaded as the extension under development) and the workbench is drawn. Fails fast with a clear message
 * otherwise, rather than letting a later wait hang for minutes.
 */
export async function openWorkbench(page: Page, url: string, timeoutMs = 60_000, devHost = true): Promise<void> {
  await page.goto(url, { waitUntil: 'domcontentloaded', timeout: timeoutMs });
  // A window running an installed .vsix is an ordinary window: only the workbench is awaited.
  if (devHost) {
    try {
      await page.waitForFunction(() => document.title.includes('[Extension Development Host]'), undefined, { timeout: timeoutMs, polling: 250 });
    } catch {
      throw new Error(
        `e2e: the workbench did not become an Extension Development Host within ${timeoutMs / 1000} s (title: "${await page.title()}"); is enable-smoke-test-driver set and engines.vscode compatible with 1.139?`,
      );
    }
  }
  await page.locator('.monaco-workbench').waitFor({ state: 'visible', timeout: timeoutMs });
}
