/**
 * Seeded random damage: random images (writes, compressed writes, zeroes, discards, a snapshot) get random
 * refcount and COPIED-flag damage; check must agree with qemu-img check, and -r all must leave the image as
 * clean as qemu-img's own repair does, with the same guest data.
 */
import { strict as assert } from 'node:assert';
import { copyFileSync } from 'node:fs';
import { qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { COPIED, Layout, ourCheck, qemuCheck } from './check-fixtures';

const SEEDS = 30;

/** A small seeded generator (mulberry32): the same seed gives the same image and damage. */
class Rng {
  constructor(private s: number) {}
  nextInt(min: number, max: number): number {
    this.s = (this.s + 0x6d2b79f5) | 0;
    let t = Math.imul(this.s ^ (this.s >>> 15), 1 | this.s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    return min + Math.floor(u * (max - min + 1));
  }
}

function makeImage(path: string, rnd: Rng): void {
  const cs = [4096, 65536][rnd.nextInt(0, 1)];
  qemuImg(['create', '-f', 'qcow2', '-o', `cluster_size=${cs},refcount_bits=${[8, 16][rnd.nextInt(0, 1)]}`, path, '32M']);
  const cmds: string[] = [];
  const compressed = new Set<number>();
  for (let i = 0; i < 12; i++) {
    // Plain writes, zeroes and discards in the first 24 MiB; compressed writes (which qemu-io allows only
    // on unallocated clusters) each to their own cluster in the last 8 MiB.
    const off = rnd.nextInt(0, 383) * 64 * 1024;
    const len = rnd.nextInt(1, 4) * 64 * 1024;
    const kind = rnd.nextInt(0, 9);
    if (kind < 6) cmds.push(`write -P ${rnd.nextInt(1, 255)} ${off} ${len}`);
    else if (kind < 8) {
      const c = rnd.nextInt(384, 511);
      if (compressed.has(c)) continue;
      compressed.add(c);
      cmds.push(`write -c -P ${rnd.nextInt(1, 255)} ${c * 65536} 65536`);
    } else if (kind < 9) cmds.push(`write -z ${off} ${len}`);
    else cmds.push(`discard ${off} ${len}`);
  }
  qemuIo(path, cmds);
  if (rnd.nextInt(0, 1)) {
    qemuImg(['snapshot', '-c', 's', path]);
    qemuIo(path, [`write -P 9 0 ${64 * 1024}`]);
  }
}

function damage(path: string, rnd: Rng): void {
  const l = new Layout(path);
  const clusters = Math.ceil(l.p.size / l.cs);
  const n = rnd.nextInt(1, 4);
  for (let i = 0; i < n; i++) {
    const kind = rnd.nextInt(0, 2);
    if (kind === 0) l.setRefcount(rnd.nextInt(0, clusters - 1), rnd.nextInt(0, 3));
    else if (kind === 1) {
      if (l.l2Offset() === 0) continue; // no L2 table for the first guest range
      const idx = rnd.nextInt(0, 20);
      const e = l.l2Entry(idx);
      if (e !== 0n && !(e & (1n << 62n))) l.setL2Entry(idx, e ^ COPIED);
    } else {
      l.p.truncate((clusters + 1) * l.cs);
      l.setRefcount(clusters, 1);
    }
  }
}

describe('check: seeded random damage agrees with qemu-img', function () {
  this.timeout(120_000);
  const dir = scratchDir('q2i-check-random-');
  after(() => dir.cleanup());

  for (let seed = 1; seed <= SEEDS; seed++) {
    it(`seed ${seed}`, async () => {
      const rnd = new Rng(seed);
      const ref = dir.path(`ref-${seed}.qcow2`);
      const img = dir.path(`img-${seed}.qcow2`);
      const theirs = dir.path(`theirs-${seed}.qcow2`);
      makeImage(ref, rnd);
      copyFileSync(ref, img);
      damage(img, rnd);
      copyFileSync(img, theirs);
      const q = qemuCheck(img);
      const o = await ourCheck(img);
      const detail = `${q.code} ${JSON.stringify(q.json)}\n${q.stderr}\nours ${o.code} ${JSON.stringify(o.json)}`;
      assert.equal(o.code, q.code, detail);
      if (q.json)
        for (const k of ['corruptions', 'leaks', 'check-errors', 'image-end-offset', 'allocated-clusters', 'fragmented-clusters', 'compressed-clusters'])
          assert.equal(o.json?.[k], q.json[k], `${k}\n${detail}`);
      qemuCheck(theirs, 'all');
      await ourCheck(img, 'all');
      const after = qemuCheck(img);
      assert.equal(after.code, qemuCheck(theirs).code, `after repair: ${after.stderr}`);
      assert.equal(qemuImg(['compare', '-q', img, theirs], true).code, 0);
      assert.equal(qemuImg(['compare', '-q', img, ref], true).code, 0);
    });
  }
});
