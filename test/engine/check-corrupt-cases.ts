/**
 * Corrupted images for the check and repair tests: each case builds an image with qemu-img/qemu-io, then
 * patches bytes of its metadata.
 */
import { qemuImg, qemuIo } from '../helpers/qemu';
import { COMPRESSED, COPIED, Layout, OFFSET_MASK } from './check-fixtures';

export interface CorruptCase {
  name: string;
  /** Builds the clean image (its guest data is the reference for repairs). */
  make(path: string): void;
  corrupt(l: Layout, path: string): void;
  /** The corruption itself changes what the guest reads: compare with the image before corruption is moot. */
  dataMayChange?: boolean;
  /** qemu-img check -r all gives up on this image (exit 1) where we repair it: we must end clean. */
  qemuRepairFails?: boolean;
  /** qemu-img's -r all reports success but leaves a corruption (its bitmap re-store frees a reference). */
  qemuRepairIncomplete?: boolean;
  /** A repair we do not implement yet (qemu-img rewrites the snapshot table): ours may end less clean. */
  unsupportedRepair?: string;
}

const io = (path: string, cmds: string[]): void => void qemuIo(path, cmds);

/** 64 MiB v3 image, 64 KiB clusters, 1 MiB of data at 0 and 64 KiB at 8 MiB. */
function basic(path: string, opts = ''): void {
  qemuImg(['create', '-f', 'qcow2', ...(opts ? ['-o', opts] : []), path, '64M']);
  io(path, ['write -P 0x5a 0 1M', 'write -P 0xa5 8M 64k']);
}

function withSnapshot(path: string): void {
  basic(path);
  qemuImg(['snapshot', '-c', 'snap1', path]);
  io(path, ['write -P 0x77 0 64k']);
}

function compressed(path: string): void {
  qemuImg(['create', '-f', 'qcow2', path, '64M']);
  io(path, ['write -c -P 0x11 0 64k', 'write -c -P 0x12 64k 64k', 'write -P 0x13 1M 64k']);
}

function withBitmap(path: string): void {
  basic(path);
  qemuImg(['bitmap', '--add', path, 'b0']);
  io(path, ['write -P 0x66 4M 1M']); // dirties the bitmap: it gets a data cluster when stored
}

/** Offset of the first bitmap's table (first directory entry), from the bitmaps header extension. */
function bitmapTable(l: Layout): number {
  let off = l.p.u32(100);
  for (;;) {
    const type = l.p.u32(off);
    const len = l.p.u32(off + 4);
    if (type === 0) throw new Error('no bitmaps extension');
    if (type === 0x23852875) return Number(l.p.u64(Number(l.p.u64(off + 8 + 16))));
    off += 8 + Math.ceil(len / 8) * 8;
  }
}

function extL2(path: string): void {
  qemuImg(['create', '-f', 'qcow2', '-o', 'extended_l2=on', path, '64M']);
  io(path, ['write -P 1 0 4k', 'write -P 2 64k 64k', 'write -z 128k 8k']);
}

const cluster = (l: Layout, off: number): number => Math.floor(off / l.cs);

export const CORRUPT_CASES: CorruptCase[] = [
  { name: 'refcount zeroed for a live data cluster', make: basic, corrupt: (l) => l.setRefcount(cluster(l, l.dataOffset(3)), 0) },
  { name: 'refcount zeroed for the L2 table', make: basic, corrupt: (l) => l.setRefcount(cluster(l, l.l2Offset()), 0) },
  { name: 'refcount zeroed for the header cluster', make: basic, corrupt: (l) => l.setRefcount(0, 0) },
  { name: 'refcount too high on a data cluster (leak, COPIED then wrong)', make: basic, corrupt: (l) => l.setRefcount(cluster(l, l.dataOffset(2)), 2) },
  {
    name: 'leaked clusters past the used end',
    make: basic,
    corrupt: (l) => {
      const used = Math.ceil(l.p.size / l.cs);
      l.p.truncate((used + 3) * l.cs);
      for (let c = used; c < used + 3; c++) l.setRefcount(c, 1);
    },
  },
  { name: 'L2 entry beyond the end of the file', make: basic, corrupt: (l) => l.setL2Entry(5, COPIED | BigInt(l.p.size + 100 * l.cs)) },
  { name: 'two L2 entries sharing a cluster', make: basic, corrupt: (l) => l.setL2Entry(6, l.l2Entry(1)) },
  { name: 'L2 entry pointing at the L1 table', make: basic, dataMayChange: true, corrupt: (l) => l.setL2Entry(4, COPIED | BigInt(l.l1Offset)) },
  { name: 'L2 entry pointing at a refcount block', make: basic, dataMayChange: true, corrupt: (l) => l.setL2Entry(4, COPIED | BigInt(l.refblockOffset(0))) },
  { name: 'L2 entry pointing at the refcount table', make: basic, dataMayChange: true, corrupt: (l) => l.setL2Entry(4, COPIED | BigInt(l.reftableOffset)) },
  {
    name: 'compressed L2 entry pointing into the header',
    make: basic,
    dataMayChange: true,
    corrupt: (l) => l.setL2Entry(30, COMPRESSED | 0x200n),
  },
  {
    name: 'L1 entry pointing at the header (offset 0 with COPIED)',
    make: (p) => {
      qemuImg(['create', '-f', 'qcow2', p, '1G']);
      io(p, ['write -P 0x5a 0 1M']);
    },
    dataMayChange: true,
    corrupt: (l) => l.setL1Entry(1, COPIED),
  },
  { name: 'COPIED missing in an L2 entry', make: basic, corrupt: (l) => l.setL2Entry(2, l.l2Entry(2) & ~COPIED) },
  { name: 'COPIED missing in an L1 entry', make: basic, corrupt: (l) => l.setL1Entry(0, l.l1Entry(0) & ~COPIED) },
  { name: 'COPIED set on a shared (snapshot) cluster', make: withSnapshot, corrupt: (l) => l.setL2Entry(3, l.l2Entry(3) | COPIED) },
  { name: 'compressed entry with COPIED set', make: compressed, corrupt: (l) => l.setL2Entry(0, l.l2Entry(0) | COPIED) },
  { name: 'reserved bits set in an L2 entry', make: basic, dataMayChange: true, corrupt: (l) => l.setL2Entry(1, l.l2Entry(1) | 0x2n) },
  { name: 'reserved bits set in an L1 entry', make: basic, dataMayChange: true, corrupt: (l) => l.setL1Entry(0, l.l1Entry(0) | (1n << 56n)) },
  {
    name: 'reserved bits set in a refcount table entry',
    make: basic,
    qemuRepairFails: true,
    corrupt: (l) => l.p.setU64(l.reftableOffset, l.p.u64(l.reftableOffset) | 0x1n),
  },
  { name: 'unaligned data offset in an L2 entry', make: basic, dataMayChange: true, corrupt: (l) => l.setL2Entry(3, l.l2Entry(3) + 0x200n) },
  {
    name: 'unaligned preallocated zero cluster (repaired to a plain zero cluster)',
    make: basic,
    // A zero-flagged entry (reads as zeros) whose preallocated host offset is unaligned.
    corrupt: (l) => l.setL2Entry(32, COPIED | BigInt(l.dataOffset(9) + 0x200) | 1n),
  },
  { name: 'unaligned L2 table offset in an L1 entry', make: basic, dataMayChange: true, corrupt: (l) => l.setL1Entry(0, l.l1Entry(0) + 0x400n) },
  {
    name: 'unaligned refcount block offset (refcounts unreadable: check errors)',
    make: basic,
    qemuRepairFails: true,
    corrupt: (l) => l.p.setU64(l.reftableOffset, BigInt(l.refblockOffset(0) + 0x200)),
  },
  {
    name: 'refcount block beyond the end of the file',
    make: basic,
    corrupt: (l) => l.p.setU64(l.reftableOffset, BigInt(l.p.size + 50 * l.cs)),
  },
  {
    name: 'extended L2 entry with allocated and zero bits both set',
    make: extL2,
    corrupt: (l) => {
      const at = l.l2EntryAt(0) + 8;
      l.p.setU32(at, l.p.u32(at) | 1); // zero bit for subcluster 0, which is allocated
    },
  },
  {
    name: 'extended L2 unallocated entry with allocation bits',
    make: extL2,
    dataMayChange: true,
    corrupt: (l) => l.p.setU32(l.l2EntryAt(20) + 12, 0xff),
  },
  { name: 'truncated file: last data clusters cut off', make: basic, dataMayChange: true, corrupt: (l) => l.p.truncate(l.p.size - 3 * l.cs) },
  { name: 'truncated file: cut through the L2 table', make: basic, dataMayChange: true, corrupt: (l) => l.p.truncate(l.l2Offset() + 4096) },
  {
    name: 'snapshot table: v3 entry with too little extra data',
    make: withSnapshot,
    corrupt: (l) => l.p.setU32(l.snapshotsOffset + 36, 8),
  },
  {
    name: 'snapshot table: snapshot L1 offset unaligned',
    make: withSnapshot,
    corrupt: (l) => l.p.setU64(l.snapshotsOffset, l.p.u64(l.snapshotsOffset) + 0x100n),
  },
  {
    name: 'snapshot table: snapshot L1 beyond the end of the file',
    make: withSnapshot,
    corrupt: (l) => l.p.setU64(l.snapshotsOffset, BigInt(l.p.size + 10 * l.cs)),
  },
  {
    name: 'snapshot table: table offset beyond the end of the file',
    make: withSnapshot,
    dataMayChange: true,
    corrupt: (l) => l.p.setU64(64, BigInt(l.p.size + 10 * l.cs)),
  },
  {
    name: 'refcount overflow: refcount_bits=1 and a shared cluster',
    make: (p) => basic(p, 'refcount_bits=1'),
    corrupt: (l) => l.setL2Entry(7, l.l2Entry(1)),
  },
  { name: 'refcount block referenced as data', make: basic, dataMayChange: true, corrupt: (l) => l.setL2Entry(9, BigInt(l.refblockOffset(0))) },
  {
    name: 'compressed data beyond the end of the file',
    make: compressed,
    dataMayChange: true,
    corrupt: (l) => l.setL2Entry(1, COMPRESSED | BigInt(l.p.size + 20 * l.cs)),
  },
  {
    name: 'bitmap data cluster pointing at the L2 table',
    make: withBitmap,
    qemuRepairIncomplete: true,
    corrupt: (l) => l.p.setU64(bitmapTable(l), BigInt(l.l2Offset())),
  },
  {
    name: 'bitmap table entry with reserved bits (qemu-img cannot open it)',
    make: withBitmap,
    corrupt: (l) => l.p.setU64(bitmapTable(l), l.p.u64(bitmapTable(l)) | 2n),
  },
  {
    name: 'dirty lazy-refcounts image with a stale refcount',
    make: (p) => basic(p, 'lazy_refcounts=on'),
    corrupt: (l) => {
      l.p.setU64(72, l.p.u64(72) | 1n);
      l.setRefcount(cluster(l, l.dataOffset(0)), 0);
    },
  },
  {
    name: 'leak and corruption together',
    make: basic,
    corrupt: (l) => {
      l.setRefcount(cluster(l, l.dataOffset(10)), 3);
      l.setRefcount(cluster(l, l.l1Offset), 0);
    },
  },
];

export { OFFSET_MASK };
