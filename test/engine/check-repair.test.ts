/**
 * Repairs (-r leaks, -r all) of the corrupted images: afterwards qemu-img check finds the image exactly as
 * clean as after qemu-img's own repair, and guest data equals qemu-img's repair result and (where the
 * corruption did not touch guest data) the image before corruption.
 */
import { strict as assert } from 'node:assert';
import { copyFileSync } from 'node:fs';
import { qemuImg, scratchDir } from '../helpers/qemu';
import { Layout, ourCheck, qemuCheck } from './check-fixtures';
import { CORRUPT_CASES } from './check-corrupt-cases';
import { openForCheck } from '../../src/qcow2/check/open-for-check';
import { checkImage } from '../../src/qcow2/check/check';

/** qemu-img compare: true identical, false different, undefined when it cannot read one of them. */
const sameGuestData = (a: string, b: string): boolean | undefined => {
  const code = qemuImg(['compare', '-q', a, b], true).code;
  return code === 0 ? true : code === 1 ? false : undefined;
};

describe('check: repairs verified with qemu-img', function () {
  this.timeout(60_000);
  const dir = scratchDir('q2i-check-repair-');
  after(() => dir.cleanup());

  for (const mode of ['leaks', 'all'] as const) {
    describe(`-r ${mode}`, () => {
      CORRUPT_CASES.forEach((c, i) => {
        it(c.name, async () => {
          const ref = dir.path(`ref-${mode}-${i}.qcow2`);
          const ours = dir.path(`ours-${mode}-${i}.qcow2`);
          const theirs = dir.path(`theirs-${mode}-${i}.qcow2`);
          const before = dir.path(`before-${mode}-${i}.qcow2`);
          c.make(ref);
          copyFileSync(ref, ours);
          c.corrupt(new Layout(ours), ours);
          copyFileSync(ours, theirs);
          copyFileSync(ours, before);

          const q = qemuCheck(theirs, mode);
          const o = await ourCheck(ours, mode);
          const after = qemuCheck(ours);
          const qAfter = qemuCheck(theirs);
          const detail = `qemu -r: ${q.code} ${JSON.stringify(q.json)} then ${qAfter.code}\n${q.stderr}\nours -r: ${o.code} ${JSON.stringify(o.json)} then ${after.code} ${JSON.stringify(after.json)}\n${after.stderr}\n${[...(o.result.repairFindings ?? []), ...o.result.findings].map((f) => f.qemuLine).join('\n')}`;
          if (c.qemuRepairFails && mode === 'all') {
            assert.equal(q.code, 1, detail);
            assert.equal(o.code, 0, detail);
            assert.equal(after.code, 0, detail);
          } else if (c.qemuRepairIncomplete && mode === 'all') {
            assert.equal(o.code, q.code, detail);
            assert.equal(after.code, 0, detail);
          } else if (c.unsupportedRepair && mode === 'all') {
            assert.ok(after.code >= qAfter.code, detail); // never worse than before, only less repaired
            assert.notEqual(after.code, 1, detail);
            return;
          } else {
            assert.equal(o.code, q.code, detail);
            assert.equal(after.code, qAfter.code, detail);
          }
          if (q.json && o.json && !c.qemuRepairFails && !c.qemuRepairIncomplete) {
            assert.equal(o.json.leaks ?? 0, q.json.leaks ?? 0, detail);
            assert.equal(o.json.corruptions ?? 0, q.json.corruptions ?? 0, detail);
          }
          if (after.code === 0) {
            // The repair must not change what the guest reads (where qemu-img can read it at all).
            assert.notEqual(sameGuestData(ours, before), false, `guest data changed by the repair\n${detail}`);
            if (qAfter.code === 0) assert.notEqual(sameGuestData(ours, theirs), false, `guest data differs from qemu-img's repair\n${detail}`);
            if (!c.dataMayChange) assert.equal(sameGuestData(ours, ref), true, `guest data differs from the image before corruption\n${detail}`);
          }
        });
      });
    });
  }

  it('refuses to repair an image opened read-only, and writes nothing', async () => {
    const path = dir.path('ro.qcow2');
    CORRUPT_CASES[0].make(path);
    CORRUPT_CASES[0].corrupt(new Layout(path), path);
    const dev = await openForCheck(path, true);
    try {
      await assert.rejects(checkImage(dev, { repair: 'all' }), /read-only/);
    } finally {
      await dev.close();
    }
    assert.equal(qemuCheck(path).code, 2);
  });
});
