/**
 * `npm run package`: the .vsix holds what the extension loads at run time and nothing else, its README renders
 * without broken images, and its manifest has an icon and a license. Builds a real .vsix from the built dist/
 * (`npm run build` first, as for the other process tests) with scripts/package.mjs --no-build, and lists the zip.
 */
import { strict as assert } from 'node:assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../helpers/qemu';

const REPO = join(__dirname, '../..');

/** What the extension needs at run time, as paths inside the .vsix. */
const REQUIRED = [
  'extension/package.json',
  'extension/package.nls.json',
  'extension/package.nls.de.json',
  'extension/l10n/bundle.l10n.de.json',
  'extension/dist/extension.js',
  'extension/dist/webview.js',
  'extension/dist/media/codicon.css',
  'extension/dist/media/codicon.ttf',
  'extension/dist/media/editor.css',
  'extension/media/icon.png',
  'extension/LICENSE.txt',
  'extension/changelog.md',
  'extension/readme.md',
];
/** Everything a .vsix may hold; anything else (sources, tests, maps, screenshots, node_modules) is a leak. */
const ALLOWED = [
  /^\[Content_Types\]\.xml$/,
  /^extension\.vsixmanifest$/,
  /^extension\/(package\.json|package\.nls(\.[a-z-]+)?\.json|LICENSE\.txt|changelog\.md|readme\.md)$/,
  /^extension\/l10n\/bundle\.l10n(\.[a-z-]+)?\.json$/,
  /^extension\/dist\/(extension|webview)\.js$/,
  /^extension\/dist\/media\/(codicon\.css|codicon\.ttf|editor\.css)$/,
  /^extension\/dist\/native\/qcow2_seek\.node$/,
  /^extension\/media\/icon\.png$/,
];

describe('npm run package (.vsix contents)', function () {
  this.timeout(120_000);
  const tmp = scratchDir('q2i-vsix-');
  const vsix = tmp.path('q2i.vsix');
  let entries: string[] = [];
  before(() => {
    assert.ok(existsSync(join(REPO, 'dist/extension.js')), 'dist/ is built (npm run build)');
    const r = spawnSync(process.execPath, [join(REPO, 'scripts/package.mjs'), '--no-build', `--out=${vsix}`], {
      cwd: REPO,
      encoding: 'utf8',
      timeout: 110_000,
    });
    assert.equal(r.status, 0, `package failed: ${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stdout + r.stderr, /WARNING|will be broken/, 'vsce packs without warnings');
    entries = execFileSync('unzip', ['-Z1', vsix], { encoding: 'utf8' }).split('\n').filter(Boolean);
  });
  after(() => tmp.cleanup());
  const read = (entry: string): string => execFileSync('unzip', ['-p', vsix, entry], { encoding: 'utf8', maxBuffer: 1 << 26 });

  it('holds every file the extension loads at run time', () => {
    for (const f of REQUIRED) assert.ok(entries.includes(f), `${f} is in the .vsix (has: ${entries.join(', ')})`);
    // The optional hole-detection addon goes in whenever the build made it.
    if (existsSync(join(REPO, 'dist/native/qcow2_seek.node'))) assert.ok(entries.includes('extension/dist/native/qcow2_seek.node'));
  });

  it('holds nothing else', () => {
    const extra = entries.filter((e) => !ALLOWED.some((re) => re.test(e)));
    assert.deepEqual(extra, []);
  });

  it('loads only assets it ships: every dist/ file the webview HTML and the bundles name is in the .vsix', () => {
    const html = readFileSync(join(REPO, 'src/extension/webview-html.ts'), 'utf8');
    const assets = [...html.matchAll(/asset\('([^']+)'\)/g)].map((m) => `extension/dist/${m[1]}`);
    assert.ok(assets.length >= 3);
    for (const a of assets) assert.ok(entries.includes(a), `${a} is shipped`);
    const css = read('extension/dist/media/codicon.css');
    for (const m of css.matchAll(/url\("?\.\/([^")?#]+)/g)) assert.ok(entries.includes(`extension/dist/media/${m[1]}`), `codicon.css loads ${m[1]}`);
  });

  it('has a README without relative images or links, a license, a changelog and an icon in the manifest', () => {
    const readme = read('extension/readme.md');
    assert.match(readme, /^# QCOW2 Inspector/);
    assert.doesNotMatch(readme, /!\[[^\]]*\]\((?!https?:)/, 'no relative images');
    assert.doesNotMatch(readme, /(?<!!)\[[^\]]*\]\((?!https?:|#|mailto:)/, 'no relative links');
    assert.match(read('extension/LICENSE.txt'), /^MIT License/);
    assert.match(read('extension/changelog.md'), /## 0\.1\.0/);
    const manifest = read('extension.vsixmanifest');
    assert.match(manifest, /Type="Microsoft\.VisualStudio\.Services\.Icons\.Default" Path="extension\/media\/icon\.png"/);
    assert.match(manifest, /Microsoft\.VisualStudio\.Services\.Content\.License/);
    const pkg = JSON.parse(read('extension/package.json'));
    for (const field of ['repository', 'bugs', 'homepage']) assert.equal(pkg[field], undefined, `no ${field} that points nowhere`);
    const png = execFileSync('unzip', ['-p', vsix, 'extension/media/icon.png']);
    assert.equal(png.subarray(1, 4).toString(), 'PNG');
    assert.ok(png.readUInt32BE(16) >= 128 && png.readUInt32BE(20) >= 128, 'icon is at least 128x128');
  });
});
