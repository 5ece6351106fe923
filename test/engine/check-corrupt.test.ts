/**
 * Corrupted images (patched at test time): our check gives qemu-img check's exit code, leak count and
 * corruption count, and reports what it finds.
 */
import { strict as assert } from 'node:assert';
import { scratchDir } from '../helpers/qemu';
import { Layout, ourCheck, qemuCheck } from './check-fixtures';
import { CORRUPT_CASES } from './check-corrupt-cases';

describe('check: corrupted images agree with qemu-img check', function () {
  this.timeout(60_000);
  const dir = scratchDir('q2i-check-corrupt-');
  after(() => dir.cleanup());

  CORRUPT_CASES.forEach((c, i) => {
    it(c.name, async () => {
      const path = dir.path(`corrupt-${i}.qcow2`);
      c.make(path);
      c.corrupt(new Layout(path), path);
      const q = qemuCheck(path);
      const ours = await ourCheck(path);
      const detail = `qemu ${q.code} ${JSON.stringify(q.json)}\n${q.stderr}\nours ${ours.code} ${JSON.stringify(ours.json)}\n${ours.result.findings.map((f) => f.qemuLine).join('\n')}`;
      assert.notEqual(q.code, 0, 'the corruption must be visible to qemu-img');
      assert.equal(ours.code, q.code, detail);
      if (q.json) {
        assert.ok(ours.json, detail);
        assert.equal(ours.json.leaks ?? 0, q.json.leaks ?? 0, detail);
        assert.equal(ours.json.corruptions ?? 0, q.json.corruptions ?? 0, detail);
        assert.equal(ours.json['check-errors'], q.json['check-errors'], detail);
        assert.equal(ours.json['image-end-offset'], q.json['image-end-offset'], detail);
        assert.equal(ours.json['allocated-clusters'], q.json['allocated-clusters'], detail);
      }
      // Every counted problem comes with a finding that names it.
      assert.ok(ours.result.findings.length > 0, detail);
      for (const f of ours.result.findings) assert.ok(f.message.length > 10 && f.kind && f.severity, JSON.stringify(f));
    });
  });
});
