/**
 * Bounds for the integrity check (issue #7): metadata that points at 2^55 is reported, not allocated for,
 * and the check of a small hostile image finishes quickly with bounded memory.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { MemIo } from '../../src/qcow2/io/memory';
import { setU32, u32 } from '../../src/qcow2/format/bytes';
import { checkImage } from '../../src/qcow2/check/check';
import { devForCheck } from '../../src/qcow2/check/open-for-check';
import { scratchDir } from '../helpers/qemu';
import { CaseDir, malformedCases, qemuImgSync, qemuIoSync } from '../fuzz/malformed-cases';

const HI_2_55 = 0x00800000; // bit 55 of an entry is bit 23 of its high word
const COPIED = 0x80000000;

class TrackingIo extends MemIo {
  maxRead = 0;
  override async readAt(buf: Uint8Array, offset: number): Promise<number> {
    this.maxRead = Math.max(this.maxRead, buf.length);
    return super.readAt(buf, offset);
  }
}

const scratch = scratchDir('q2i-bounds-check-');
after(() => scratch.cleanup());

function baseImage(): Uint8Array {
  const p = scratch.path(`b-${Math.random().toString(36).slice(2)}.qcow2`);
  qemuImgSync(['create', '-q', '-f', 'qcow2', '-o', 'cluster_size=4096', p, '16M']);
  qemuIoSync(p, ['write -q -P 0x5a 0 8k']);
  return new Uint8Array(readFileSync(p));
}

const l1Of = (b: Uint8Array) => u32(b, 44);
const l2Of = (b: Uint8Array) => u32(b, l1Of(b) + 4) & ~0x1ff;
const reftableOf = (b: Uint8Array) => u32(b, 52);

async function runCheck(b: Uint8Array) {
  const io = new TrackingIo(b, 'mem.qcow2', true);
  const ab0 = process.memoryUsage().arrayBuffers;
  const t0 = performance.now();
  const res = await checkImage(await devForCheck(io, true));
  const ms = performance.now() - t0;
  const grown = process.memoryUsage().arrayBuffers - ab0;
  return { res, ms, grown, maxRead: io.maxRead };
}

function assertReported(r: Awaited<ReturnType<typeof runCheck>>, pattern: RegExp): void {
  assert.ok(r.ms < 5000, `check took ${r.ms.toFixed(0)} ms`);
  assert.ok(r.maxRead <= 1024 * 1024, `read ${r.maxRead} bytes at once`);
  assert.ok(r.grown < 64 * 1024 * 1024, `array buffers grew by ${r.grown} bytes`);
  const problems = r.res.summary.corruptions + r.res.summary.checkErrors;
  assert.ok(problems > 0 || r.res.failure, `nothing reported: ${JSON.stringify(r.res.summary)}`);
  const text = [r.res.failure ?? '', ...r.res.findings.map((f) => f.message)].join('\n');
  assert.match(text, pattern);
}

describe('bounds: check of metadata pointing at 2^55', function () {
  this.timeout(30_000);

  it('an L2 entry pointing at 2^55 is reported', async () => {
    const b = baseImage();
    setU32(b, l2Of(b), COPIED | HI_2_55);
    setU32(b, l2Of(b) + 4, 0);
    assertReported(await runCheck(b), /past the end of the file|beyond the end|outside/i);
  });

  it('an L1 entry pointing at 2^55 is reported', async () => {
    const b = baseImage();
    setU32(b, l1Of(b), COPIED | HI_2_55);
    setU32(b, l1Of(b) + 4, 0);
    assertReported(await runCheck(b), /past the end of the file|beyond the end|outside/i);
  });

  it('a refcount table entry pointing at 2^55 is reported', async () => {
    const b = baseImage();
    setU32(b, reftableOf(b), HI_2_55);
    setU32(b, reftableOf(b) + 4, 0);
    assertReported(await runCheck(b), /past the end of the file|beyond the end|outside|refcount block/i);
  });

  it('the same, with the largest offset an entry can hold (2^56 - 512)', async () => {
    const b = baseImage();
    setU32(b, l2Of(b), COPIED | 0x00ffffff);
    setU32(b, l2Of(b) + 4, 0xfffffe00);
    assertReported(await runCheck(b), /past the end of the file|beyond the end|outside/i);
  });
});

describe('bounds: check time on small hostile images', function () {
  this.timeout(60_000);

  // Found by the fuzzer: the work of check follows nb_snapshots (up to 65536) even when the table lies past the end
  // of a 32 KiB file. qemu-img check does the same (65536 "incomplete" entries); it must stay well within 5 s.
  it('65536 snapshot entries past the end of a small file: check and check -r all each take under 5 s of CPU', async () => {
    const c = malformedCases.find((m) => m.name === 'snapshot count larger than the snapshot table')!;
    const b = new Uint8Array(readFileSync(c.build(new CaseDir(scratch.path('snaps'), 4096))));
    for (const repair of [undefined, 'all'] as const) {
      const cpu0 = process.cpuUsage();
      const res = await checkImage(await devForCheck(new MemIo(b, 'mem.qcow2', !repair), !repair), { repair, maxFindings: 100 });
      const cpu = process.cpuUsage(cpu0);
      const seconds = (cpu.user + cpu.system) / 1e6;
      assert.ok(seconds < 5, `check${repair ? ' -r all' : ''} took ${seconds.toFixed(1)} s of CPU`);
      assert.ok(res.findings.length <= 100);
    }
  });
});
