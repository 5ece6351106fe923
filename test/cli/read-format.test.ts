/** The text helpers that reproduce qemu-img's formatting. */
import { strict as assert } from 'node:assert';
import { sizeToStr } from '../../src/cli/format-info';
import { qemuJson } from '../../src/cli/format-json';
import { mapEntryHuman, mapEntryJson } from '../../src/cli/format-map';

describe('qemu-img text formats', () => {
  it('sizeToStr matches QEMU size_to_str (3 significant digits, unit switch at 1000)', () => {
    const cases: [number, string][] = [
      [0, '0 B'],
      [512, '512 B'],
      [999, '999 B'],
      [1000, '0.977 KiB'],
      [1024, '1 KiB'],
      [335872, '328 KiB'],
      [1536 * 1024, '1.5 MiB'],
      [1024000, '0.977 MiB'],
      [4 * 1024 ** 4, '4 TiB'],
      [2 ** 53 - 1, '8 PiB'],
    ];
    for (const [v, s] of cases) assert.equal(sizeToStr(v), s, String(v));
  });

  it('qemuJson writes like QEMU: 4-space indents, split empty containers, \\uXXXX outside ASCII', () => {
    assert.equal(
      qemuJson({ a: [], b: {}, c: 'x"é\n', d: [1, true] }),
      '{\n    "a": [\n    ],\n    "b": {\n    },\n    "c": "x\\"\\u00E9\\n",\n    "d": [\n        1,\n        true\n    ]\n}',
    );
  });

  it('map entries print as qemu-img prints them', () => {
    assert.equal(
      mapEntryJson({ start: 0, length: 512, depth: 1, present: true, zero: false, data: true, offset: 0 }),
      '{ "start": 0, "length": 512, "depth": 1, "present": true, "zero": false, "data": true, "offset": 0}',
    );
    assert.equal(
      mapEntryHuman({ start: 0, length: 0x10000, depth: 0, present: true, zero: false, data: true, offset: 0x50000, file: 'a.qcow2' }),
      '0               0x10000         0x50000         a.qcow2\n',
    );
    assert.equal(mapEntryHuman({ start: 0, length: 1, depth: 0, present: false, zero: true, data: false }), '');
  });
});
