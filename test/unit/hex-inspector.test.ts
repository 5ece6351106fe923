/** Data inspector decoding, checked against Node's Buffer readers and known encodings. */
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { inspectBytes, printable } from '../../webview/hex/inspector';

const get = (rows: ReturnType<typeof inspectBytes>, label: string) => rows.find((r) => r.label === label)!.value;

describe('hex view: data inspector', () => {
  it('decodes integers, floats, binary and a GUID in both byte orders', () => {
    const b = Uint8Array.from([0x28, 0x73, 0x2a, 0xc1, 0x1f, 0xf8, 0xd2, 0x11, 0xba, 0x4b, 0x00, 0xa0, 0xc9, 0x3e, 0xc9, 0x3b]);
    const le = inspectBytes(b, true);
    const be = inspectBytes(b, false);
    assert.equal(get(le, 'GUID'), 'C12A7328-F81F-11D2-BA4B-00A0C93EC93B'); // the EFI System partition type
    assert.equal(get(le, 'binary'), '00101000');
    assert.equal(get(le, 'u16'), String(0x7328));
    assert.equal(get(be, 'u16'), String(0x2873));
    assert.equal(get(le, 'i32'), String(Buffer.from(b).readInt32LE(0)));
    assert.equal(get(be, 'u64'), Buffer.from(b).readBigUInt64BE(0).toString());
    assert.equal(get(le, 'i64'), Buffer.from(b).readBigInt64LE(0).toString());
    const f = Buffer.alloc(8);
    f.writeDoubleLE(Math.PI);
    assert.equal(get(inspectBytes(f, true), 'f64'), String(Math.PI));
    f.writeFloatBE(1.5);
    assert.equal(get(inspectBytes(f, false), 'f32'), '1.5');
  });

  it('shows a dash for types longer than the bytes left', () => {
    const rows = inspectBytes(Uint8Array.from([0xff, 0xfe]), true);
    assert.equal(get(rows, 'i8'), '-1');
    assert.equal(get(rows, 'i16'), '-257');
    assert.equal(get(rows, 'u32'), '—');
    assert.equal(get(rows, 'GUID'), '—');
  });

  it('matches Buffer for every integer width on random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 8, maxLength: 8 }), fc.boolean(), (bytes, little) => {
        const buf = Buffer.from(bytes);
        const r = inspectBytes(bytes, little);
        const L = little ? 'LE' : 'BE';
        assert.equal(get(r, 'u16'), String(buf[`readUInt16${L}`](0)));
        assert.equal(get(r, 'i16'), String(buf[`readInt16${L}`](0)));
        assert.equal(get(r, 'u32'), String(buf[`readUInt32${L}`](0)));
        assert.equal(get(r, 'u64'), String(buf[`readBigUInt64${L}`](0)));
        assert.equal(get(r, 'i64'), String(buf[`readBigInt64${L}`](0)));
      }),
      { seed: 6 },
    );
  });

  it('text column shows printable ASCII only', () => {
    assert.equal([0x41, 0x00, 0x7f, 0x20, 0xe9].map(printable).join(''), 'A.. .');
  });
});
