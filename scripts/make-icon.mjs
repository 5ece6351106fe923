// Renders media/icon.svg to media/icon.png (128×128, transparent) with headless Chromium; run when the SVG changes
// and commit both (the PNG is ~4 KB). Chromium rather than an image library: it is already needed for the e2e tests.
//   node scripts/make-icon.mjs
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const tmp = mkdtempSync(join(tmpdir(), 'q2i-icon-'));
const html = join(tmp, 'icon.html');
const out = join(repo, 'media/icon.png');
writeFileSync(html, `<html><body style="margin:0;background:transparent">${readFileSync(join(repo, 'media/icon.svg'), 'utf8')}</body></html>`);
const r = spawnSync(
  process.env.CHROMIUM_PATH ?? 'chromium',
  [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--hide-scrollbars',
    '--default-background-color=00000000',
    '--window-size=128,128',
    '--virtual-time-budget=2000',
    `--screenshot=${out}`,
    `file://${html}`,
  ],
  { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8', timeout: 60_000 },
);
rmSync(tmp, { recursive: true, force: true });
if (r.status !== 0) {
  console.error(`make-icon: chromium failed: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
  process.exit(1);
}
console.log(`make-icon: media/icon.png (${statSync(out).size} bytes)`);
