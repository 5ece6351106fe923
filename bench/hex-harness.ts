/**
 * Runs the real hex view (webview/hex, bundled with esbuild) in Debian's Chromium on a blank page, with a
 * HexHost whose reads go to the real engine in this Node process (page.exposeFunction). It measures what the
 * webview does without VS Code around it: used by bench/hex.bench.ts and test/e2e/ui/hex-standalone.ui.ts.
 */
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { openImage, type Qcow2Dev } from '../src/qcow2';
import { readHexPage } from '../src/extension/hex-page';
import type { MapRun } from '../src/shared/protocol';

const REPO = resolve(__dirname, '..');
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

export interface HexHarness {
  page: Page;
  dev: Qcow2Dev;
  /** Host-side time of every page read (engine read + mapping runs), ms. */
  hostReadMs: number[];
  /** The offsets of those reads, in the same order. */
  hostReadAt: number[];
  /** Edits the view sent (hexEdit messages). */
  edits: Array<{ offset: number; bytes: Uint8Array }>;
  close(): Promise<void>;
}

let bundle: string | undefined;

async function bundleHexView(): Promise<string> {
  if (bundle) return bundle;
  // The esbuild CLI in a child process: its JS API misbehaves when loaded through the bench runner's tsImport.
  const esbuild = join(REPO, 'node_modules/esbuild/bin/esbuild');
  const args = [
    join(REPO, 'webview/hex/index.ts'),
    '--bundle',
    '--format=iife',
    '--global-name=HexViewModule',
    '--platform=browser',
    '--target=es2022',
    '--log-level=warning',
  ];
  bundle = execFileSync(esbuild, args, { encoding: 'utf8', maxBuffer: 64 << 20 });
  return bundle;
}

/**
 * Answers one hex page request the way the extension host does (readAt, then the mapping runs). The bytes cross
 * playwright's bridge as base64 (it passes JSON only); the page hands the view a Uint8Array, as VS Code does.
 */
export async function readPage(dev: Qcow2Dev, offset: number, length: number): Promise<{ data: string; runs: MapRun[] }> {
  const { bytes, runs } = await readHexPage(dev, undefined, offset, length);
  return { data: Buffer.from(bytes).toString('base64'), runs };
}

let browser: Browser | undefined;

export async function launchHexHarness(image: string, opts: { editable?: boolean; viewport?: { width: number; height: number } } = {}): Promise<HexHarness> {
  const dev = await openImage(image, { readOnly: true });
  browser ??= await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--enable-precise-memory-info'] });
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1300, height: 800 } });
  const page = await context.newPage();
  const hostReadMs: number[] = [];
  const hostReadAt: number[] = [];
  const edits: HexHarness['edits'] = [];
  await page.exposeFunction('hexHostRead', async (offset: number, length: number) => {
    const t0 = performance.now();
    const r = await readPage(dev, offset, length);
    hostReadMs.push(performance.now() - t0);
    hostReadAt.push(offset);
    return r;
  });
  await page.exposeFunction('hexHostEdit', (offset: number, data: string) => {
    edits.push({ offset, bytes: new Uint8Array(Buffer.from(data, 'base64')) });
  });
  await page.setContent(`<!doctype html><html><head><style>
      html, body { margin: 0; height: 100%; } #c { height: 100vh; display: flex; flex-direction: column; }
      :root { --vscode-editor-font-family: monospace; --vscode-editor-font-size: 13px; --vscode-editor-background: #1e1e1e; --vscode-editor-foreground: #d4d4d4; --vscode-editor-selectionBackground: #264f78; --vscode-scrollbarSlider-background: #79797966; }
      body { background: #1e1e1e; color: #d4d4d4; }
    </style></head><body><div id="c"></div></body></html>`);
  await page.addScriptTag({ content: await bundleHexView() });
  // Page scripts are strings: tsx's transform would add helpers (__name) that do not exist in the page.
  await page.evaluate(`(${MOUNT_SCRIPT})(${JSON.stringify({ size: dev.info.virtualSize, editable: opts.editable ?? false })})`);
  return {
    page,
    dev,
    hostReadMs,
    hostReadAt,
    edits,
    close: async () => {
      await context.close();
      await dev.close();
    },
  };
}

export async function closeHexBrowser(): Promise<void> {
  await browser?.close();
  browser = undefined;
}

/** Calls goTo in the page and waits until every visible byte is drawn; returns the view's own goTo time (ms). */
export async function goToAndWait(page: Page, offset: number): Promise<number> {
  return page.evaluate(`(${GOTO_SCRIPT})(${offset})`) as Promise<number>;
}

/** JS heap in use in the page, MiB (Chromium's performance.memory, precise with --enable-precise-memory-info). */
export async function heapMiB(page: Page): Promise<number> {
  const client = await page.context().newCDPSession(page);
  await client.send('HeapProfiler.collectGarbage');
  const m = (await page.evaluate(() => (performance as unknown as { memory: { usedJSHeapSize: number } }).memory.usedJSHeapSize)) as number;
  await client.detach();
  return m / 2 ** 20;
}

const MOUNT_SCRIPT = `({ size, editable }) => {
  const w = window;
  const fromB64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));
  const toB64 = (b) => btoa(Array.from(b, (x) => String.fromCharCode(x)).join(''));
  const handlers = [];
  let state;
  const deliver = (m) => handlers.forEach((h) => h(m));
  const host = {
    post(msg) {
      if (msg.type === 'hexRead') {
        w.hexHostRead(msg.offset, msg.length).then(
          (r) => deliver({ type: 'hexPage', requestId: msg.requestId, offset: msg.offset, data: fromB64(r.data), runs: r.runs }),
          (e) => deliver({ type: 'error', requestId: msg.requestId, message: String(e.message || e) }),
        );
      } else if (msg.type === 'hexEdit') {
        w.hexHostEdit(msg.offset, toB64(msg.data));
      } else if (msg.type === 'copyText') {
        w.lastCopied = msg.text;
      }
    },
    onMessage(h) {
      handlers.push(h);
      return () => handlers.splice(handlers.indexOf(h), 1);
    },
    editable,
    settings: { sectorSize: 512 },
    virtualSize: size,
    getState: () => state,
    setState: (s) => (state = s),
  };
  w.hexDeliver = deliver;
  w.hexHandle = w.HexViewModule.mountHexView(document.getElementById('c'), host);
}`;

const GOTO_SCRIPT = `async (o) => {
  const root = document.querySelector('.hx-root');
  window.hexHandle.goTo(o);
  const t0 = performance.now();
  while (root.dataset.complete !== 'true' || Number(root.dataset.gotoMs) < 0) {
    if (performance.now() - t0 > 10000) throw new Error('goTo(' + o + ') did not finish drawing');
    await new Promise((r) => requestAnimationFrame(r));
  }
  return Number(root.dataset.gotoMs);
}`;
