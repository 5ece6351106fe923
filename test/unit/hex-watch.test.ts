/** Reload or ask when the image changes on disk under an open document (hex-watch.ts), with a fake document. */
import { strict as assert } from 'node:assert';
import { writeFileSync, renameSync } from 'node:fs';
import { EventEmitter } from 'node:events';
import { watchForExternalChanges, type WatchedDocument } from '../../src/extension/hex-watch';
import { scratchDir } from '../helpers/qemu';

class FakeDoc implements WatchedDocument {
  writing = 0;
  conflict: WatchedDocument['conflict'] = 'none';
  reloads = 0;
  dirty = false;
  reverted = 0;
  private readonly events = new EventEmitter();
  readonly journal: WatchedDocument['journal'];
  constructor(readonly path: string) {
    // eslint-disable-next-line @typescript-eslint/no-this-alias -- the journal's getters read this fake document
    const doc = this;
    this.journal = {
      get isDirty() {
        return doc.dirty;
      },
    };
  }
  async discard(): Promise<void> {
    this.dirty = false;
    this.reverted++;
  }
  async reload(): Promise<void> {
    this.reloads++;
    this.events.emit('state', 'reloaded');
  }
  onDidChangeState(l: (what: string) => void) {
    this.events.on('state', l);
    return { dispose: () => this.events.off('state', l) };
  }
}
let current: FakeDoc;

const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await wait(20);
  }
}

describe('hex view: file changed on disk', () => {
  const s = scratchDir('h6-watch-');
  after(() => s.cleanup());

  it('reloads when there are no pending edits; ignores our own writes', async () => {
    const f = s.path('a.qcow2');
    writeFileSync(f, 'one');
    current = new FakeDoc(f);
    const asked: string[] = [];
    const w = watchForExternalChanges(current, async (p) => (asked.push(p), 'keep'), 30);
    try {
      await wait(100);
      writeFileSync(f, 'two!');
      await until(() => current.reloads === 1);
      // Our own write: inside the writing window, then the document reloads itself.
      current.writing++;
      writeFileSync(f, 'three');
      await wait(150);
      await current.reload();
      current.writing--;
      await wait(150);
      assert.equal(current.reloads, 2, 'only our own reload');
      assert.deepEqual(asked, []);
    } finally {
      w.dispose();
    }
  });

  it('asks when there are pending edits: keep leaves them (conflict until saved), discard drops them; a replaced file counts too', async () => {
    const f = s.path('b.qcow2');
    writeFileSync(f, 'one');
    current = new FakeDoc(f);
    current.dirty = true;
    let answer: 'keep' | 'discard' = 'keep';
    const asked: string[] = [];
    const states: string[] = [];
    const w = watchForExternalChanges(current, async (p) => (asked.push(p), states.push(current.conflict), answer), 30);
    try {
      await wait(100);
      writeFileSync(f, 'changed');
      await until(() => asked.length === 1);
      await wait(100);
      assert.equal(current.dirty, true);
      // Kept: the edits stay, over the file as it is now, and the conflict lasts until a save or revert.
      assert.equal(current.reloads, 1);
      assert.equal(current.conflict, 'kept');
      answer = 'discard';
      writeFileSync(s.path('b.new'), 'replaced by rename');
      renameSync(s.path('b.new'), f);
      await until(() => current.reloads === 2);
      assert.equal(asked.length, 2);
      assert.deepEqual(states, ['asking', 'asking'], 'in conflict while the question is open');
      assert.equal(current.dirty, false);
      assert.equal(current.reverted, 1);
      assert.equal(current.conflict, 'none');
    } finally {
      w.dispose();
    }
  });
});
