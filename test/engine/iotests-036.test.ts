/**
 * Ports of qemu-iotests 036 (feature bits), compared with qemu-img 7.2: unknown incompatible bits refuse the image
 * (info and check, exit 1) naming the same features as qemu-img, from feature-name tables with and without the
 * bits' names (including an entry shorter than 48 bytes, as the iotest writes); an unknown autoclear bit leaves the
 * image readable and is cleared by a repair or a write, as qemu-img's read-write open clears it.
 */
import { strict as assert } from 'node:assert';
import { readFileSync, writeFileSync } from 'node:fs';
import { cli, qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { both, copies, FEATURE_TABLE, sameConvert, sameViews, setFeatureBit, setHeaderExtension } from './iotests-support';

/** A feature-name table entry: type (0 incompatible, 1 compatible, 2 autoclear), bit, name; `short` = unpadded. */
function entry(type: number, bit: number, name: string, short = false): Buffer {
  const e = Buffer.alloc(short ? 2 + name.length : 48);
  e[0] = type;
  e[1] = bit;
  e.write(name, 2);
  return e;
}

interface Case {
  name: string;
  bits: number[];
  table?: Buffer;
}

const CASES: Case[] = [
  { name: 'bit 63, no feature table', bits: [63] },
  { name: 'bit 63, a table naming it (short entry)', bits: [63], table: entry(0, 63, 'Test feature', true) },
  { name: 'bits 61-63, no feature table', bits: [61, 62, 63] },
  { name: 'bits 61-63, a table naming 63', bits: [61, 62, 63], table: entry(0, 63, 'Test feature', true) },
  { name: 'bits 61-63, a table naming 61', bits: [61, 62, 63], table: entry(0, 61, 'Test feature', true) },
  { name: 'bits 61-63, a table naming 61 and 62', bits: [61, 62, 63], table: Buffer.concat([entry(0, 61, 'test1'), entry(0, 62, 'test2')]) },
  {
    name: 'bits 61-63, a table naming all three',
    bits: [61, 62, 63],
    table: Buffer.concat([entry(0, 61, 'test1'), entry(0, 62, 'test2'), entry(0, 63, 'test3')]),
  },
  {
    name: 'bits 61-63, a table whose 61 and 63 are compatible/autoclear names',
    bits: [61, 62, 63],
    table: Buffer.concat([entry(1, 61, 'test1'), entry(0, 62, 'test2'), entry(2, 63, 'test3'), entry(0, 60, 'test4')]),
  },
];

describe('iotest 036: feature bits, compared with qemu-img 7.2', function () {
  this.timeout(30_000);
  const dir = scratchDir('q2i-iotests-036-');
  after(() => dir.cleanup());

  it('unknown incompatible bits: info and check refuse as qemu-img, naming the same features', async () => {
    for (const [i, c] of CASES.entries()) {
      const img = dir.path(`incompat-${i}.qcow2`);
      qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'compat=1.1', img, '64M']);
      for (const b of c.bits) setFeatureBit(img, 'incompatible', b);
      setHeaderExtension(img, FEATURE_TABLE, c.table);
      for (const cmd of ['info', 'check']) {
        const q = qemuImg([cmd, img], true);
        const o = await cli([cmd, img]);
        assert.equal(q.code, 1, `${c.name}: qemu-img ${cmd} refuses`);
        assert.equal(o.code, 1, `${c.name}: our ${cmd} refuses`);
        // qemu-img: "Unsupported qcow2 feature(s): test2, Unknown incompatible feature: a000000000000000".
        const listed = /feature\(s\): (.*)$/m.exec(q.stderr)?.[1] ?? '';
        const names = listed.split(', ').filter((n) => !n.startsWith('Unknown incompatible feature'));
        const unknownMask = BigInt(`0x${/Unknown incompatible feature: ([0-9a-f]+)/.exec(listed)?.[1] ?? '0'}`);
        const line = o.stderr.trim();
        assert.equal(line.split('\n').length, 1, `${c.name}: one line`);
        assert.ok(line.startsWith(`qcow2-inspector: ${img}: unsupported incompatible features: `), line);
        for (const n of names) assert.ok(line.includes(`${n} (bit `), `${c.name}: names "${n}": ${line}`);
        for (const b of c.bits)
          if (unknownMask & (1n << BigInt(b))) assert.ok(line.includes(` bit ${b}`) && !line.includes(`(bit ${b})`), `${c.name}: bit ${b} unnamed`);
      }
    }
  });

  function autoclear63(name: string): string {
    const img = dir.path(name);
    qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'compat=1.1', img, '64M']);
    qemuIo(img, ['write -P 0x33 0 64k']);
    setFeatureBit(img, 'autoclear', 63);
    return img;
  }

  it('unknown autoclear bit 63: the image reads, checks and converts as in qemu-img', async () => {
    const img = autoclear63('autoclear.qcow2');
    await sameViews(img);
    await sameConvert(img, dir.path);
    assert.equal(readFileSync(img).readUInt8(88), 0x80, 'read-only commands leave the bit');
  });

  for (const mode of ['all', 'leaks'])
    it(`unknown autoclear bit 63: check -r ${mode} clears it, the file as qemu-img's`, async () => {
      const [ref, ours] = copies(autoclear63(`ac-${mode}.qcow2`), dir.path(`ac-${mode}-q.qcow2`), dir.path(`ac-${mode}-o.qcow2`));
      await both(['check', '-r', mode], ref, ours);
      assert.equal(readFileSync(ours).readUInt8(88), 0, 'autoclear bit cleared');
      assert.ok(readFileSync(ours).equals(readFileSync(ref)), "same bytes as qemu-img's repaired file");
    });

  it('unknown autoclear bit 63: a write clears it, as a qemu-io write does', async () => {
    const [ref, ours] = copies(autoclear63('ac-write.qcow2'), dir.path('ac-write-q.qcow2'), dir.path('ac-write-o.qcow2'));
    qemuIo(ref, ['write -P 0x44 4096 512']);
    const data = dir.path('ac-write.bin');
    writeFileSync(data, Buffer.alloc(512, 0x44));
    const w = await cli(['write', ours, '4096', data]);
    assert.equal(w.code, 0, w.stderr);
    assert.equal(readFileSync(ref).readUInt8(88), 0);
    assert.equal(readFileSync(ours).readUInt8(88), 0, 'autoclear bit cleared');
    assert.equal(qemuImg(['compare', '-q', ref, ours], true).code, 0, 'same guest data');
    await both(['check', '--output=json'], ref, ours);
  });
});
