/** Corruptions are errors: the level of the check's notification and of its log lines (integrity.ts). */
import { strict as assert } from 'node:assert';
import { findingLevel, reportLevel } from '../../src/extension/integrity';

describe('extension: how loud a check result is', () => {
  const clean = { available: true, corruptions: 0, leaks: 0, checkErrors: 0 };
  it('corruptions are errors, leaks and check errors warnings, a clean image information', () => {
    assert.equal(reportLevel({ ...clean, corruptions: 5 }), 'error');
    assert.equal(reportLevel({ ...clean, corruptions: 5, leaks: 2 }), 'error');
    assert.equal(reportLevel({ ...clean, leaks: 1 }), 'warn');
    assert.equal(reportLevel({ ...clean, checkErrors: 1 }), 'warn');
    assert.equal(reportLevel({ ...clean, available: false }), 'warn');
    assert.equal(reportLevel(clean), 'info');
  });
  it('each finding is logged at its own level', () => {
    assert.deepEqual((['corruption', 'leak', 'warning', 'info'] as const).map(findingLevel), ['error', 'warn', 'warn', 'info']);
  });
});
