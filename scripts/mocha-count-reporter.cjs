// Mocha reporter used by scripts/test.mjs: prints the usual spec output and, when the environment variable
// MOCHA_COUNT_FILE names a file, writes {passed, failed, skipped} there so the stages can be summed. It also prints
// the ten slowest test files, so the CI run's time budget can be watched.
'use strict';
const { writeFileSync } = require('node:fs');
const { relative } = require('node:path');
const Mocha = require('mocha/lib/mocha.cjs');

class CountReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const counts = { passed: 0, failed: 0, skipped: 0 };
    const fileMs = new Map();
    let fileStart = 0;
    runner.on('pass', () => counts.passed++);
    runner.on('fail', () => counts.failed++);
    runner.on('pending', () => counts.skipped++);
    // Root-level suites are files; time from their start to their end includes hooks.
    runner.on('suite', (s) => {
      if (s.parent?.root) fileStart = Date.now();
    });
    runner.on('suite end', (s) => {
      if (!s.parent?.root || !s.file) return;
      const f = relative(process.cwd(), s.file);
      fileMs.set(f, (fileMs.get(f) ?? 0) + Date.now() - fileStart);
    });
    runner.once('end', () => {
      const slow = [...fileMs].sort((a, b) => b[1] - a[1]).slice(0, 10);
      console.log('\n  slowest files:');
      for (const [f, ms] of slow) console.log(`    ${(ms / 1000).toFixed(1).padStart(6)} s  ${f}`);
      if (process.env.MOCHA_COUNT_FILE) writeFileSync(process.env.MOCHA_COUNT_FILE, JSON.stringify(counts));
    });
  }
}
module.exports = CountReporter;
