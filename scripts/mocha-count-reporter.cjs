// Mocha reporter used by scripts/test.mjs: prints the usual spec output and, when the environment variable
// MOCHA_COUNT_FILE names a file, writes {passed, failed, skipped} there so the stages can be summed.
'use strict';
const { writeFileSync } = require('node:fs');
const Mocha = require('mocha/lib/mocha.cjs');

class CountReporter extends Mocha.reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    const counts = { passed: 0, failed: 0, skipped: 0 };
    runner.on('pass', () => counts.passed++);
    runner.on('fail', () => counts.failed++);
    runner.on('pending', () => counts.skipped++);
    runner.once('end', () => {
      if (process.env.MOCHA_COUNT_FILE) writeFileSync(process.env.MOCHA_COUNT_FILE, JSON.stringify(counts));
    });
  }
}
module.exports = CountReporter;
