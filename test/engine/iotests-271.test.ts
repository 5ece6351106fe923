/**
 * Ports of qemu-iotests 271's corrupted extended L2 entries (subcluster bitmaps), compared with qemu-img 7.2:
 * info, map JSON, convert bytes, check text and detail lines, and the state after `-r leaks` and `-r all`.
 * The images are laid out as in the iotest: header, refcount table, refcount block, L1, then the L2 table at
 * 0x40000 (16-byte entries: the standard descriptor, then 32 "allocated" bits and 32 "reads as zero" bits).
 */
import { strict as assert } from 'node:assert';
import { qemuImg, qemuIo, scratchDir } from '../helpers/qemu';
import { be32, be64, compareWithQemu, patch, u64At, type CompareOptions } from './iotests-support';

const L2 = 0x40000;

function extL2(p: string, size = '1M', backing?: string): void {
  qemuImg(['create', '-q', '-f', 'qcow2', '-o', 'extended_l2=on', ...(backing ? ['-F', 'raw', '-b', backing] : []), p, ...(backing ? [] : [size])]);
}

interface Case extends CompareOptions {
  name: string;
  build(path: string, base: string): void;
  more?(out: Awaited<ReturnType<typeof compareWithQemu>>, src: string): void;
}

const CASES: Case[] = [
  {
    name: "iotest 271: 'cluster is zero' bit set in the standard descriptor of an allocated entry (ignored)",
    stderr: true,
    build: (p) => {
      extL2(p);
      qemuIo(p, ['write -q -P 0x11 0 2k']);
      patch(p, L2 + 7, Buffer.from([1]));
    },
  },
  {
    name: "iotest 271: both 'subcluster is zero' and 'allocated' bits set (allocated cluster)",
    stderr: true,
    differ: ['convert'],
    build: (p) => {
      extL2(p);
      qemuIo(p, ['write -q 32k 128k']);
      patch(p, L2 + 24, be32(1));
    },
    more: (out, src) => {
      assert.equal(out.convert.q.code, 1, 'qemu-img cannot read the cluster');
      assert.equal(out.convert.o.code, 1);
      assert.match(out.convert.o.stderr, new RegExp(`^qcow2-inspector: ${src}: L2 entry for guest offset 0x10000 \\(L1 0, L2 1\\)[^\\n]+\\n$`));
    },
  },
  {
    name: "iotest 271: 'cluster is zero' bit set in an unallocated entry (ignored)",
    stderr: true,
    build: (p) => {
      extL2(p);
      qemuIo(p, ['write -q 256k 1k']);
      patch(p, L2 + 7, Buffer.from([1]));
    },
  },
  {
    name: "iotest 271: 'subcluster is allocated' bit set in an entry without a host cluster",
    stderr: true,
    differ: ['convert'],
    build: (p) => {
      extL2(p);
      qemuIo(p, ['write -q 256k 1k']);
      patch(p, L2 + 15, Buffer.from([1]));
    },
    more: (out) => {
      assert.equal(out.convert.q.code, 1);
      assert.equal(out.convert.o.code, 1);
    },
  },
  {
    name: "iotest 271: both 'subcluster is zero' and 'allocated' bits set (unallocated cluster)",
    stderr: true,
    differ: ['convert'],
    build: (p) => {
      extL2(p);
      qemuIo(p, ['write -q 256k 1k']);
      patch(p, L2 + 24, be64((1n << 32n) | 1n));
    },
    more: (out) => {
      assert.equal(out.convert.q.code, 1);
      assert.equal(out.convert.o.code, 1);
    },
  },
  {
    name: 'iotest 271: compressed cluster with a non-zero subcluster bitmap (ignored)',
    stderr: true,
    build: (p) => {
      extL2(p);
      qemuIo(p, ['write -q -P 11 -c 0 64k']);
      patch(p, L2 + 11, Buffer.from([0x01, 0x80]));
    },
  },
  {
    name: 'iotest 271: unaligned cluster offset with an allocated subcluster (not repairable)',
    stderr: true,
    differ: ['convert'],
    build: (p, base) => {
      extL2(p, undefined, base);
      qemuIo(p, ['write -q -P 1 4k 2k']);
      patch(p, L2 + 6, Buffer.from([2]));
    },
    more: (out) => {
      assert.equal(out.all.q.code, 2, 'qemu-img -r all cannot fix it');
      assert.equal(out.convert.q.code, 1);
      assert.equal(out.convert.o.code, 1);
    },
  },
  {
    name: 'iotest 271: unaligned cluster offset without allocated subclusters (repaired)',
    stderr: true,
    build: (p, base) => {
      extL2(p, undefined, base);
      qemuIo(p, ['write -q -P 1 4k 2k', 'write -q -z 4k 2k']);
      patch(p, L2 + 6, Buffer.from([2]));
    },
    more: (out) => assert.equal(out.all.q.code, 0),
  },
];

describe('iotest 271: corrupted extended L2 entries, compared with qemu-img 7.2', function () {
  this.timeout(60_000);
  const dir = scratchDir('q2i-iotests-271-');
  after(() => dir.cleanup());
  const base = dir.path('base.raw');
  before(() => {
    qemuImg(['create', '-q', '-f', 'raw', base, '128k']);
    qemuIo(base, ['write -q -P 0xff 0 128k'], ['-f', 'raw']);
  });

  CASES.forEach((c, i) => {
    it(c.name, async () => {
      const src = dir.path(`src-${i}.qcow2`);
      c.build(src, base);
      assert.equal(u64At(src, u64At(src, 40)) & 0x00fffffffffffe00, L2, 'L2 table where the iotest expects it');
      const out = await compareWithQemu(src, (n) => dir.path(`${i}-${n}`), c);
      c.more?.(out, src);
    });
  });
});
