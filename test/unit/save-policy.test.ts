/** Telling VS Code's auto-save from the user's own save (save-policy.ts), for the hex view's edits. */
import { strict as assert } from 'node:assert';
import { AUTO_SAVE_SLACK_MS, classifySave, EXPLICIT_WINDOW_MS, type SaveFacts } from '../../src/extension/save-policy';

const base: SaveFacts = {
  now: 100_000,
  explicitAt: 0,
  lastChangeAt: 99_000,
  autoSave: 'afterDelay',
  autoSaveDelay: 1000,
  panelActive: true,
  windowFocused: true,
};

describe('hex view: which saves are auto-saves', () => {
  it('afterDelay: a save that arrives the delay after the last edit is auto-save', () => {
    assert.equal(classifySave(base), 'auto');
    assert.equal(classifySave({ ...base, lastChangeAt: base.now - 1000 - AUTO_SAVE_SLACK_MS + 1 }), 'auto');
  });
  it('a save started by our own command (Ctrl+S) is explicit, whenever it arrives', () => {
    assert.equal(classifySave({ ...base, explicitAt: base.now - 50 }), 'explicit');
    assert.equal(classifySave({ ...base, explicitAt: base.now - EXPLICIT_WINDOW_MS - 1 }), 'auto');
  });
  it("afterDelay: saves long after or right after an edit are the user's (menu, close dialog)", () => {
    assert.equal(classifySave({ ...base, lastChangeAt: base.now - 60_000 }), 'explicit');
    assert.equal(classifySave({ ...base, lastChangeAt: base.now - 100 }), 'explicit');
  });
  it('a document restored dirty from a hot-exit backup: saves soon after, before any edit, are auto-saves', () => {
    assert.equal(classifySave({ ...base, lastChangeAt: 0, restoredAt: base.now - 4000 }), 'auto');
    assert.equal(classifySave({ ...base, lastChangeAt: 0, restoredAt: base.now - 60_000 }), 'explicit');
    assert.equal(classifySave({ ...base, lastChangeAt: 0, restoredAt: base.now - 4000, explicitAt: base.now - 10 }), 'explicit');
  });

  it('auto-save off: every save is explicit', () => {
    assert.equal(classifySave({ ...base, autoSave: 'off' }), 'explicit');
  });
  it('onFocusChange / onWindowChange: saves while focus has left are auto-saves', () => {
    assert.equal(classifySave({ ...base, autoSave: 'onFocusChange', panelActive: false }), 'auto');
    assert.equal(classifySave({ ...base, autoSave: 'onFocusChange' }), 'explicit');
    assert.equal(classifySave({ ...base, autoSave: 'onWindowChange', panelActive: false }), 'explicit');
    assert.equal(classifySave({ ...base, autoSave: 'onWindowChange', windowFocused: false }), 'auto');
  });
});
