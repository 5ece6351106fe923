// Coverage-guided fuzzing of the qcow2 engine with Jazzer.js (libFuzzer).
//   npm run fuzz                      10 minutes
//   npm run fuzz -- --seconds=3600    as long as told
//   npm run fuzz:ci                   the short CI pass (60 s, fixed libFuzzer seed)
//   npm run fuzz -- --skip=write,check leave stages out (info, getMapping, map, read, guestfs, write, check, usage, repair)
//   npm run fuzz -- --replay=FILE     run one input through the target, outside the fuzzer
// The target (test/fuzz/fuzz-image.ts) treats each input as an image: check, usage, the CLI (info/check/usage),
// check -r all on a copy, then open, info, getMapping, map, reads, and a short write workload on a copy.
// Findings (non-Qcow2Error exceptions, inputs taking over 5 s of CPU, memory over the RSS limit, writes to a
// read-only file, CLI failures that are not one clean line) are written to fuzz-crashes/; after a finding the
// fuzzer restarts on the same corpus until the time is used up.
// Exit status: 0 when the run found nothing, 1 when it found something, 2 when the fuzzer could not run.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, appendFileSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { patchGlibc238 } from '../test/fuzz/glibc-compat.mjs';

const root = resolve(new URL('..', import.meta.url).pathname);
const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v] = a.replace(/^--/, '').split('=');
    return [k, v ?? 'true'];
  }),
);
const seconds = Number(args.seconds ?? (args.ci ? 60 : 600));
const work = join(root, '.fuzz');
const buildDir = join(work, 'build');
const seedsDir = join(work, 'seeds');
const corpusDir = join(work, 'corpus');
const crashDir = join(root, 'fuzz-crashes');
const RSS_LIMIT_MB = 1024; // the node process idles at ~200-300 MB; inputs are at most 128 KiB, tables at most 32 MiB
const MAX_LEN = 128 * 1024;
/** Instrumented vs --dry_run CPU time was about 2.5x on a slow input; 4 leaves margin. Scales the 5 s CPU hang limit. */
const INSTRUMENTATION_SLOWDOWN = 4;

function log(msg) {
  process.stdout.write(`fuzz: ${msg}\n`);
}

/** The prebuilt libFuzzer addon needs glibc 2.38; patch its three newer imports when this machine is older. */
function ensureAddonLoads() {
  const require = createRequire(join(root, 'package.json'));
  const addon = join(root, 'node_modules/@jazzer.js/fuzzer/prebuilds', `fuzzer-${process.platform}-${process.arch}.node`);
  const probe = () => spawnSync(process.execPath, ['-e', `require(${JSON.stringify(addon)})`], { encoding: 'utf8' });
  let r = probe();
  if (r.status !== 0 && /GLIBC_2\.38|GLIBCXX_3\.4\.32/.test(r.stderr) && process.platform === 'linux' && process.arch === 'x64') {
    log(`patching ${addon} for this glibc (${patchGlibc238(addon)} entries)`);
    r = probe();
  }
  if (r.status !== 0) throw new Error(`the Jazzer.js fuzzer addon does not load: ${r.stderr.split('\n').find((l) => /Error/.test(l))}`);
  return require.resolve('@jazzer.js/core/dist/cli.js');
}

async function bundleTarget() {
  mkdirSync(buildDir, { recursive: true });
  const outfile = join(buildDir, 'qcow2-fuzz.cjs');
  await build({
    entryPoints: [join(root, 'test/fuzz/jazzer-entry.ts')],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  return outfile;
}

function buildSeeds() {
  if (existsSync(seedsDir) && readdirSync(seedsDir).length > 0 && !args['fresh-seeds']) return;
  if (spawnSync('qemu-img', ['--version']).status !== 0) {
    log('qemu-img is not installed: starting without seed images');
    mkdirSync(seedsDir, { recursive: true });
    return;
  }
  const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'test/fuzz/seed-corpus.ts'), seedsDir], { cwd: root, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`seed corpus: ${r.stderr}`);
  log(r.stdout.trim());
}

function crashFiles() {
  return existsSync(crashDir) ? readdirSync(crashDir).filter((f) => /^(crash|timeout|oom|leak)-/.test(f)) : [];
}

let current;
let stopping = false;

function runJazzer(cli, target, budget) {
  return new Promise((done) => {
    const jazzerArgs = [
      cli,
      target,
      corpusDir,
      seedsDir,
      '--disable_bug_detectors=.*', // they hook child_process/fs/prototypes; the engine uses none on fuzzed data
      '--timeout=30000', // backstop only: the target itself flags an input that takes over 5 s of CPU
      '--',
      `-max_total_time=${budget}`,
      `-rss_limit_mb=${RSS_LIMIT_MB}`,
      `-max_len=${MAX_LEN}`,
      `-artifact_prefix=${crashDir}/`,
      '-print_final_stats=1',
      '-report_slow_units=60', // slow-but-finished inputs are judged by the target's CPU limit, not saved
      ...(args.seed ? [`-seed=${args.seed}`] : []),
    ];
    // --skip=write,map leaves stages out (e.g. while a known finding in one of them awaits its fix).
    const env = { ...process.env, QCOW2_FUZZ_SKIP: args.skip ?? '', QCOW2_FUZZ_CPU_LIMIT: String(5 * INSTRUMENTATION_SLOWDOWN) };
    const child = spawn(process.execPath, jazzerArgs, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    current = child;
    let execs = 0;
    let tail = '';
    const onData = (chunk) => {
      const s = chunk.toString();
      tail = (tail + s).slice(-20000);
      if (args.verbose || /Uncaught|==\d+==|ERROR|artifact_prefix|Test unit written/.test(s)) process.stdout.write(s);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('close', (code) => {
      current = undefined;
      const runs = [...tail.matchAll(/stat::number_of_executed_units:\s*(\d+)|Done (\d+) runs/g)].pop();
      if (runs) execs = Number(runs[1] ?? runs[2]);
      const final = /Done \d+ runs in \d+ second\(s\)/.exec(tail);
      if (final) log(final[0]);
      done({ code, execs, tail });
    });
  });
}

/** A finding that sits in the corpus would stop every restart while the corpus loads: take it out (it stays in fuzz-crashes/). */
function dropFromCorpus(finding) {
  const sha1 = finding.replace(/^[a-z-]+-/, '');
  rmSync(join(corpusDir, sha1), { force: true });
  for (const f of readdirSync(seedsDir)) {
    const p = join(seedsDir, f);
    if (createHash('sha1').update(readFileSync(p)).digest('hex') === sha1) rmSync(p);
  }
}

async function replay(file) {
  const target = await bundleTarget();
  const { fuzz } = createRequire(import.meta.url)(target);
  await fuzz(readFileSync(file));
  log(`${file}: no finding`);
}

async function main() {
  if (args.replay) return replay(args.replay);
  const cli = ensureAddonLoads();
  const target = await bundleTarget();
  buildSeeds();
  mkdirSync(corpusDir, { recursive: true });
  mkdirSync(crashDir, { recursive: true });
  const before = new Set(crashFiles());
  const start = Date.now();
  let execs = 0;
  let restarts = 0;
  const hits = new Set();
  log(`fuzzing for ${seconds} s (corpus ${corpusDir}, seeds ${seedsDir}, findings to ${crashDir}/)`);
  // Ctrl-C or a kill still records how long the run lasted.
  for (const sig of ['SIGINT', 'SIGTERM']) {
    process.on(sig, () => {
      stopping = true;
      current?.kill('SIGINT');
    });
  }
  for (;;) {
    if (stopping) break;
    const left = Math.floor(seconds - (Date.now() - start) / 1000);
    if (left < 5 || restarts > 50) break;
    const r = await runJazzer(cli, target, left);
    execs += r.execs;
    if (r.code === 0 || stopping) break;
    restarts++;
    for (const m of r.tail.matchAll(/Test unit written to \S*\/((?:crash|timeout|oom|leak)-[0-9a-f]+)/g)) {
      hits.add(m[1]);
      dropFromCorpus(m[1]);
    }
    if (!/Test unit written|artifact_prefix/.test(r.tail)) {
      process.stdout.write(r.tail.slice(-3000));
      throw new Error(`jazzer exited with ${r.code} without writing a finding`);
    }
  }
  const ran = (Date.now() - start) / 1000;
  const found = [...hits];
  const fresh = found.filter((f) => !before.has(f));
  appendFileSync(join(work, 'history.jsonl'), JSON.stringify({ date: new Date().toISOString(), seconds: Math.round(ran), execs, findings: found }) + '\n');
  log(`ran ${ran.toFixed(0)} s, ${execs} executions, ${found.length} finding(s) (${fresh.length} new)${found.length ? `: ${found.join(', ')}` : ''}`);
  if (found.length) {
    log(`reproduce with: npm run fuzz -- --replay=fuzz-crashes/${found[0]}; add each as a regression test in test/engine/fuzz-regressions.test.ts`);
    process.exitCode = 1;
  }
}

main().catch((err) => {
  process.stderr.write(`fuzz: ${err.message}\n`);
  process.exitCode = 2;
});
