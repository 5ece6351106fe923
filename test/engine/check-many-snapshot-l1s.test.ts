/**
 * Hostile: 65,536 snapshots (QEMU's maximum), each with its own L1 table (issue #19). Every table is read (once)
 * and walked, so the check's time grows with the file, but linearly: `node dist/cli.js check` took 3.7 s wall,
 * 0.9 s CPU (0.97 s at 4096 snapshots) against 16.9 s wall, 9.4 s CPU for qemu-img check (0.54 s at 4096) on a
 * loaded 2-core machine. The test bounds our CPU time at 65,536 generously, and compares the counts with qemu-img's
 * JSON at 16,384 snapshots (qemu-img needs about 17 s at 65,536, too much for every CI run).
 */
import { strict as assert } from 'node:assert';
import { copyFileSync } from 'node:fs';
import { scratchDir } from '../helpers/qemu';
import { ourCheck, qemuCheck } from './check-fixtures';
import { manySnapshotL1s } from './many-snapshot-l1s';

describe('check: up to 65,536 snapshots with distinct L1 tables', function () {
  this.timeout(120_000);
  const dir = scratchDir('q2i-check-many-l1-');
  after(() => dir.cleanup());

  for (const count of [16384, 65536]) {
    const withQemu = count <= 16384;
    it(`${count} snapshots: check and check -r all stay under 10 s of CPU${withQemu ? ' and count as qemu-img check does' : ''}`, async () => {
      const path = dir.path(`many${count}.qcow2`);
      manySnapshotL1s(path, count);
      const q = withQemu ? qemuCheck(path) : undefined;
      if (q) assert.equal(q.code, 0, q.stderr);
      for (const repair of [undefined, 'all'] as const) {
        const p = dir.path(`many${count}-${repair}.qcow2`);
        copyFileSync(path, p);
        const cpu0 = process.cpuUsage();
        const r = await ourCheck(p, repair);
        const cpu = process.cpuUsage(cpu0);
        const s = (cpu.user + cpu.system) / 1e6;
        assert.ok(s < 10, `check${repair ? ' -r all' : ''} took ${s} s of CPU`);
        assert.equal(r.code, 0, JSON.stringify(r.result.summary));
        if (q) assert.deepEqual({ ...r.json, filename: '' }, { ...q.json, filename: '' });
        assert.equal(r.result.summary.allocatedClusters, 0);
      }
    });
  }
});
