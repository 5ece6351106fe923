/** The edit journal: apply/undo/redo/overlay/save/backup/restore, checked against a plain byte-array model. */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { EditJournal, MAX_JOURNAL_BYTES, type JournalTarget } from '../../src/extension/edit-journal';
import { scratchDir } from '../helpers/qemu';

/** A fake device: a byte array with a write log, flush and fsync counters. */
class FakeDev implements JournalTarget {
  writes: Array<[number, number]> = [];
  flushed = 0;
  synced = 0;
  failAfter = Infinity;
  constructor(readonly bytes: Uint8Array) {}
  readonly io = { fsync: async () => void this.synced++ };
  async writeAt(buf: Uint8Array, offset: number): Promise<void> {
    if (this.writes.length >= this.failAfter) throw new Error('EIO');
    this.bytes.set(buf, offset);
    this.writes.push([offset, buf.length]);
  }
  async flushMeta(): Promise<void> {
    this.flushed++;
  }
}

function view(j: EditJournal, disk: Uint8Array): Uint8Array {
  const b = disk.slice();
  j.overlay(0, b);
  return b;
}

/** Makes an edit from the current view, as the host does. */
function edit(j: EditJournal, disk: Uint8Array, offset: number, after: number[]): void {
  const before = view(j, disk).slice(offset, offset + after.length);
  j.apply({ offset, before, after: Uint8Array.from(after) });
}

describe('edit journal', () => {
  it('applies, overlays, undoes and redoes; dirty follows the net difference from the disk', () => {
    const disk = new Uint8Array(64).map((_, i) => i);
    const j = new EditJournal(64);
    assert.equal(j.isDirty, false);
    edit(j, disk, 10, [0xaa, 0xbb]);
    edit(j, disk, 11, [0xcc, 0xdd]); // overlaps the first edit
    assert.deepEqual([...view(j, disk).subarray(9, 14)], [9, 0xaa, 0xcc, 0xdd, 13]);
    assert.equal(j.isDirty, true);
    j.undo();
    assert.deepEqual([...view(j, disk).subarray(9, 14)], [9, 0xaa, 0xbb, 12, 13]);
    j.undo();
    assert.deepEqual(view(j, disk), disk);
    assert.equal(j.isDirty, false);
    j.undo(); // nothing left: no-op
    j.redo();
    j.redo();
    j.redo(); // nothing left: no-op
    assert.deepEqual([...view(j, disk).subarray(9, 14)], [9, 0xaa, 0xcc, 0xdd, 13]);
    // Writing the disk's own value back is not dirty.
    j.revert();
    edit(j, disk, 5, [5]);
    assert.equal(j.isDirty, false);
  });

  it('overlays partial windows and merges touching edits into one extent', () => {
    const disk = new Uint8Array(100);
    const j = new EditJournal(100);
    edit(j, disk, 20, [1, 2, 3]);
    edit(j, disk, 23, [4]);
    edit(j, disk, 19, [9]);
    const b = new Uint8Array(3);
    j.overlay(21, b);
    assert.deepEqual([...b], [2, 3, 4]);
    assert.deepEqual(j.pendingRanges(), [[19, 5]]);
    assert.deepEqual(j.pendingIn(21, 2), [[21, 2]]);
    assert.deepEqual(j.pendingIn(0, 20), [[19, 1]]);
    assert.deepEqual(j.pendingIn(24, 50), []);
    edit(j, disk, 21, [0]); // back to the disk value: no longer pending
    assert.deepEqual(j.pendingIn(0, 100), [
      [19, 2],
      [22, 2],
    ]);
  });

  it('saves pending ranges with writeAt, then flushMeta and fsync; undo after save makes the old bytes pending', async () => {
    const disk = new Uint8Array(4096);
    const dev = new FakeDev(disk);
    const j = new EditJournal(4096);
    edit(j, disk, 510, [0x55, 0xaa]);
    edit(j, disk, 1000, [1, 2, 3]);
    await j.saveTo(dev);
    assert.deepEqual(dev.writes, [
      [510, 2],
      [1000, 3],
    ]);
    assert.equal(dev.flushed, 1);
    assert.equal(dev.synced, 1);
    assert.equal(j.isDirty, false);
    assert.deepEqual([...disk.subarray(510, 512)], [0x55, 0xaa]);
    j.undo();
    assert.equal(j.isDirty, true);
    assert.deepEqual([...view(j, disk).subarray(1000, 1003)], [0, 0, 0]);
    await j.saveTo(dev);
    assert.deepEqual([...disk.subarray(1000, 1003)], [0, 0, 0]);
    j.redo();
    assert.deepEqual([...view(j, disk).subarray(1000, 1003)], [1, 2, 3]);
  });

  it('a failed save keeps the unwritten ranges pending, and a retry completes it', async () => {
    const disk = new Uint8Array(100);
    const dev = new FakeDev(disk);
    dev.failAfter = 1;
    const j = new EditJournal(100);
    edit(j, disk, 0, [1]);
    edit(j, disk, 50, [2]);
    await assert.rejects(j.saveTo(dev), /EIO/);
    assert.deepEqual(j.pendingRanges(), [[50, 1]]);
    dev.failAfter = Infinity;
    await j.saveTo(dev);
    assert.deepEqual([disk[0], disk[50]], [1, 2]);
    assert.equal(j.isDirty, false);
  });

  it('rejects edits past the end, mismatched lengths, and more than the memory cap', () => {
    const j = new EditJournal(100);
    assert.throws(() => j.apply({ offset: 99, before: new Uint8Array(2), after: new Uint8Array(2) }), /past the end/);
    assert.throws(() => j.apply({ offset: 0, before: new Uint8Array(1), after: new Uint8Array(2) }), /invalid edit/);
    const big = new EditJournal(2 * MAX_JOURNAL_BYTES);
    const chunk = Math.ceil(MAX_JOURNAL_BYTES / 7);
    big.apply({ offset: 0, before: new Uint8Array(chunk), after: new Uint8Array(chunk).fill(1) });
    assert.throws(
      () => big.apply({ offset: chunk, before: new Uint8Array(chunk), after: new Uint8Array(chunk).fill(1) }),
      /too many unsaved edits.*save or revert/,
    );
    assert.equal(big.isDirty, true); // the refused edit changed nothing
    assert.deepEqual(big.pendingRanges(), [[0, chunk]]);
  });

  it('backs up and restores the journal (history, position and overlay)', async () => {
    const s = scratchDir('h6-journal-');
    try {
      const disk = new Uint8Array(256);
      const j = new EditJournal(256);
      edit(j, disk, 1, [7, 7]);
      edit(j, disk, 100, [8]);
      edit(j, disk, 200, [9]);
      j.undo();
      await j.backup(s.path('backup.json'));
      const r = await EditJournal.restore(s.path('backup.json'));
      assert.deepEqual(view(r, disk), view(j, disk));
      assert.deepEqual(r.pendingRanges(), j.pendingRanges());
      r.redo();
      assert.equal(view(r, disk)[200], 9);
      r.undo();
      r.undo();
      r.undo();
      assert.equal(r.isDirty, false);
      const { writeFileSync } = await import('node:fs');
      writeFileSync(s.path('junk.json'), '{"magic":"nope"}');
      await assert.rejects(EditJournal.restore(s.path('junk.json')), /junk\.json: not a usable edit journal backup: unknown format/);
      writeFileSync(s.path('trunc.json'), '{"magic":');
      await assert.rejects(EditJournal.restore(s.path('trunc.json')), /not a usable edit journal backup/);
    } finally {
      s.cleanup();
    }
  });

  it('backs up into a folder that does not exist yet (VS Code does not create the extension storage folder)', async () => {
    const s = scratchDir('h6-journal-');
    try {
      const disk = new Uint8Array(64);
      const j = new EditJournal(64);
      edit(j, disk, 5, [0xab]);
      const dest = s.path('workspaceStorage/id/qcow2-inspector.qcow2-inspector/x0');
      await j.backup(dest);
      const r = await EditJournal.restore(dest);
      assert.deepEqual(r.pendingRanges(), [[5, 1]]);
      assert.equal(view(r, disk)[5], 0xab);
    } finally {
      s.cleanup();
    }
  });

  it('matches a byte-array model under random edit/undo/redo/save sequences', async () => {
    const size = 64;
    const op = fc.oneof(
      fc.record({ t: fc.constant('edit' as const), off: fc.nat(size - 1), bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }) }),
      fc.record({ t: fc.constantFrom('undo' as const, 'redo' as const, 'save' as const) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 40 }), async (ops) => {
        const disk = new Uint8Array(size);
        const dev = new FakeDev(disk);
        const j = new EditJournal(size);
        // Model: states[i] is the view after i applied edits.
        let states = [disk.slice()];
        let pos = 0;
        for (const o of ops) {
          if (o.t === 'edit') {
            const after = o.bytes.subarray(0, size - o.off);
            edit(j, disk, o.off, [...after]);
            const next = states[pos].slice();
            next.set(after, o.off);
            states = states.slice(0, pos + 1);
            states.push(next);
            pos++;
          } else if (o.t === 'undo') {
            j.undo();
            pos = Math.max(0, pos - 1);
          } else if (o.t === 'redo') {
            j.redo();
            pos = Math.min(states.length - 1, pos + 1);
          } else {
            await j.saveTo(dev);
            assert.deepEqual(disk, states[pos]);
          }
          assert.deepEqual(view(j, disk), states[pos]);
          assert.equal(j.isDirty, !disk.every((b, i) => b === states[pos][i]));
        }
      }),
      { numRuns: 300, seed: 6 },
    );
  });
});
