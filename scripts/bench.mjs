// `npm run bench [-- NAME…]`: runs bench/*.bench.ts (or those whose name contains NAME) and prints one table of
// our figures beside qemu-img's, with ratios and targets; writes the same table as markdown to bench-results.md
// (git-ignored) for pasting into the README. Benchmarks are not tests: a missed target is reported, not fatal.
// Conventions for bench files are at the top of bench/lib.ts.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { tsImport } from 'tsx/esm/api';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const files = readdirSync(join(repo, 'bench'))
  .filter((f) => f.endsWith('.bench.ts') && (filters.length === 0 || filters.some((x) => f.includes(x))))
  .sort();
if (files.length === 0) {
  console.error(`bench: no bench/*.bench.ts matches ${filters.join(' ')}`);
  process.exit(2);
}

const rows = []; // BenchRow & { file }
let errors = 0;
for (const f of files) {
  const tmp = mkdtempSync(join(tmpdir(), 'q2i-bench-'));
  const t0 = Date.now();
  console.error(`bench: ${f}`);
  try {
    const mod = await tsImport(pathToFileURL(join(repo, 'bench', f)).href, import.meta.url);
    const fn = mod.default?.default ?? mod.default;
    const ctx = { tmp, repo, cli: join(repo, 'dist/cli.js'), log: (m) => console.error(`  ${m}`) };
    for (const r of await fn(ctx)) rows.push({ ...r, file: f });
  } catch (err) {
    errors++;
    console.error(`bench: ${f} failed: ${err instanceof Error ? err.message : err}`);
    rows.push({
      file: f,
      name: `${f} (failed)`,
      ours: NaN,
      theirs: NaN,
      ratio: NaN,
      unit: '',
      better: 'lower',
      note: String(err?.message ?? err)
        .split('\n')[0]
        .slice(0, 120),
    });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    console.error(`bench: ${f} took ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  }
}

const fmt = (x) => (Number.isFinite(x) ? (Math.abs(x) >= 100 ? x.toFixed(0) : Math.abs(x) >= 10 ? x.toFixed(1) : x.toFixed(2)) : '–');
const verdict = (r) => {
  if (r.target === undefined || !Number.isFinite(r.ratio)) return '';
  return (r.better === 'lower' ? r.ratio <= r.target : r.ratio >= r.target) ? 'pass' : 'FAIL';
};
const targetText = (r) => (r.target === undefined ? '' : `${r.better === 'lower' ? '≤' : '≥'} ${r.target}×`);
const mem = (r) => (r.oursMemMiB === undefined && r.theirsMemMiB === undefined ? '' : `${fmt(r.oursMemMiB)} / ${fmt(r.theirsMemMiB)}`);
const header = ['benchmark', 'ours', 'qemu-img', 'unit', 'ratio', 'target', 'result', 'peak MiB (ours / qemu-img)', 'note'];
const table = rows.map((r) => [
  r.name,
  fmt(r.ours),
  fmt(r.theirs),
  r.unit,
  Number.isFinite(r.ratio) ? `${r.ratio.toFixed(2)}×` : '–',
  targetText(r),
  verdict(r),
  mem(r),
  r.note ?? '',
]);

// Terminal: aligned columns.
const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
const line = (cells) =>
  cells
    .map((c, i) => (i === 0 || i >= 7 ? c.padEnd(widths[i]) : c.padStart(widths[i])))
    .join('  ')
    .trimEnd();
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const t of table) console.log(line(t));

// Markdown for the README.
const qemuVersion = execFileSync('qemu-img', ['--version'], { encoding: 'utf8' }).split('\n')[0];
const machine = `${cpus().length} × ${cpus()[0]?.model.trim() ?? 'cpu'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, ${qemuVersion}`;
const md = [
  `Measured ${new Date().toISOString().slice(0, 10)} on ${machine}. Ratio = ours / qemu-img's; page cache warm for both.`,
  '',
  `| ${header.join(' | ')} |`,
  `|${header.map((_, i) => (i === 0 || i >= 7 ? '---' : '---:')).join('|')}|`,
  ...table.map((t) => `| ${t.join(' | ')} |`),
  '',
].join('\n');
writeFileSync(join(repo, 'bench-results.md'), md);
console.log(`\nbench: wrote bench-results.md (${rows.length} rows${errors ? `, ${errors} benchmark file(s) failed` : ''})`);
process.exit(errors ? 1 : 0);
