/** The hex view's cursor model: navigation keys, selections, replace-only typing, partition marks. */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { CursorModel, navigationMove } from '../../webview/hex/cursor-model';
import { marksIn, partitionMarks } from '../../webview/hex/partition-marks';
import type { PartitionTable } from '../../src/shared/partitions';

const TiB = 2 ** 40;

describe('hex view: cursor model', () => {
  it('navigation keys move by a byte, a row, a screen, to the row ends and the disk ends', () => {
    const size = 4 * TiB;
    const c = 0x1234;
    assert.deepEqual(navigationMove('ArrowLeft', false, c, 16, 30, size), { to: c - 1 });
    assert.deepEqual(navigationMove('ArrowRight', false, c, 16, 30, size), { to: c + 1 });
    assert.deepEqual(navigationMove('ArrowUp', false, c, 16, 30, size), { to: c - 16 });
    assert.deepEqual(navigationMove('ArrowDown', false, c, 32, 30, size), { to: c + 32 });
    assert.deepEqual(navigationMove('PageDown', false, c, 16, 30, size), { to: c + 480, scrollRows: 30 });
    assert.deepEqual(navigationMove('PageUp', false, c, 16, 30, size), { to: c - 480, scrollRows: -30 });
    assert.deepEqual(navigationMove('Home', false, c, 16, 30, size), { to: 0x1230 });
    assert.deepEqual(navigationMove('End', false, c, 16, 30, size), { to: 0x123f });
    assert.deepEqual(navigationMove('Home', true, c, 16, 30, size), { to: 0 });
    assert.deepEqual(navigationMove('End', true, c, 16, 30, size), { to: size - 1 });
    assert.equal(navigationMove('x', false, c, 16, 30, size), undefined);
  });

  it('moves stay on the disk, and a selection runs from the anchor to the cursor either way', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 2 ** 42 }),
        fc.array(fc.tuple(fc.integer({ min: -(2 ** 43), max: 2 ** 43 }), fc.boolean()), { maxLength: 20 }),
        (size, moves) => {
          const m = new CursorModel(size);
          let anchor: number | undefined;
          for (const [to, extend] of moves) {
            const before = m.cursor;
            const o = m.moveTo(to, extend);
            assert.ok(o >= 0 && o < size && o === m.cursor);
            anchor = extend ? (anchor ?? before) : undefined;
            const [lo, hi] = m.selection();
            assert.equal(lo, Math.min(anchor ?? o, o));
            assert.equal(hi, Math.max(anchor ?? o, o));
          }
        },
      ),
    );
  });

  it('types two hex digits per byte in the hex column, one printable character in the text column', () => {
    const m = new CursorModel(100);
    m.moveTo(10, false);
    assert.deepEqual(m.type('g'), { kind: 'ignored' });
    assert.deepEqual(m.type('a'), { kind: 'nibble' });
    assert.deepEqual(m.nibble, { offset: 10, high: 0xa });
    assert.deepEqual(m.type('B'), { kind: 'byte', offset: 10, byte: 0xab });
    assert.equal(m.nibble, undefined);
    m.type('1');
    m.moveTo(11, false); // moving drops a half-typed byte
    assert.equal(m.nibble, undefined);
    assert.deepEqual(m.type('2'), { kind: 'nibble' });
    m.clear();
    assert.equal(m.nibble, undefined);
    m.toggleColumn();
    assert.equal(m.column, 'text');
    assert.deepEqual(m.type('Z'), { kind: 'byte', offset: 11, byte: 0x5a });
    assert.deepEqual(m.type('\u00e9'), { kind: 'ignored' });
    assert.equal(m.wouldEdit('q'), true, 'any key would be an edit in the text column');
    m.toggleColumn();
    assert.equal(m.wouldEdit('q'), false);
    assert.equal(m.wouldEdit('f'), true);
  });

  it('partition marks: usable partitions only, sorted by offset (table order at a tie); looked up by row', () => {
    const table = {
      scheme: 'gpt',
      sectorSize: 512,
      warnings: [],
      partitions: [
        { number: 2, name: 'data', start: 9 << 20, end: 64 << 20 },
        { number: 1, name: '', start: 1 << 20, end: 9 << 20 },
        { number: 3, name: 'bad', start: 2 << 20, end: 3 << 20, problem: 'overlaps' },
      ],
    } as unknown as PartitionTable;
    const marks = partitionMarks(table);
    assert.deepEqual(
      marks.map((m) => [m.offset, m.label]),
      [
        [1 << 20, '▶ p1 start'],
        [9 << 20, '▶ p2 data start'],
        [9 << 20, '◀ p1 end'],
        [64 << 20, '◀ p2 end'],
      ],
    );
    assert.equal(marksIn(marks, 9 << 20, (9 << 20) + 16).length, 2);
    assert.equal(marksIn(marks, 0, 16).length, 0);
    assert.deepEqual(marksIn(marks, (64 << 20) - 8, (64 << 20) + 8), [marks[3]]);
  });
});
