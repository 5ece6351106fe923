/**
 * Malformed images, each made from a valid qemu-img image by patching bytes. Shared by the malformed-image
 * tests (which assert the error) and the fuzz seed corpus (which starts the fuzzer from each of them).
 * Nothing here is committed as a binary: every image is built at run time.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setU32, setU64, u32 } from '../../src/qcow2/format/bytes';
import { compressedRange, entryOffset } from '../../src/qcow2/format/entries';
import { retryPbkdfBenchmark } from '../helpers/pbkdf-retry';

export function qemuImgSync(args: string[]): void {
  retryPbkdfBenchmark(() => {
    const r = spawnSync('qemu-img', args, { encoding: 'utf8', timeout: 60_000 });
    if (r.status !== 0) throw new Error(`qemu-img ${args.join(' ')} failed: ${r.stderr || r.error}`);
  }, 5);
}

export function qemuIoSync(image: string, cmds: string[], extra: string[] = []): void {
  const args = [...extra];
  for (const c of cmds) args.push('-c', c);
  args.push(image);
  const r = spawnSync('qemu-io', args, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0 || /error|failed/i.test(r.stdout + r.stderr)) throw new Error(`qemu-io ${cmds.join('; ')} failed: ${r.stdout}${r.stderr}`);
}

/** Where a case's images are made. */
export class CaseDir {
  constructor(
    readonly dir: string,
    /** Cluster size of the base images (small for the fuzz corpus, 64 KiB for tests). */
    readonly clusterSize = 65536,
  ) {
    mkdirSync(dir, { recursive: true });
  }
  path(name: string): string {
    return join(this.dir, name);
  }
  private readonly bases = new Map<string, Uint8Array>();
  /** A fresh valid image with 8 KiB of data at guest offset 0 (so L1[0] and an L2 table exist). Made once per options. */
  base(name: string, opts: string[] = [], size = '64M'): string {
    const p = this.path(name);
    const key = `${opts.join(',')}/${size}`;
    let bytes = this.bases.get(key);
    if (!bytes) {
      const tmp = this.path(`.base-${this.bases.size}.qcow2`);
      qemuImgSync(['create', '-q', '-f', 'qcow2', '-o', [`cluster_size=${this.clusterSize}`, ...opts].join(','), tmp, size]);
      qemuIoSync(tmp, ['write -q -P 0xab 0 8k']);
      bytes = new Uint8Array(readFileSync(tmp));
      rmSync(tmp);
      this.bases.set(key, bytes);
    }
    writeFileSync(p, bytes);
    return p;
  }
  /** Makes an image from the base, patched by `patch`. */
  patched(name: string, patch: (b: Uint8Array) => void, opts: string[] = []): string {
    const p = this.base(name, opts);
    const b = new Uint8Array(readFileSync(p));
    patch(b);
    writeFileSync(p, b);
    return p;
  }
  write(name: string, bytes: Uint8Array | string): string {
    const p = this.path(name);
    writeFileSync(p, bytes);
    return p;
  }
}

export interface MalformedCase {
  name: string;
  /** Builds the image(s); returns the path to open. */
  build(d: CaseDir): string;
  /** The failure shows at open, on reading guest offset 0, or (damage qemu-img reads through) on writing there. */
  when: 'open' | 'read' | 'write';
  /** What the one-line message must say after "<file>: ". */
  reason: RegExp;
  /** When the CLI shows it otherwise: `info` opens an image with a missing or unnamed data file, as qemu-img info does. */
  cliWhen?: 'read';
  /** The file the message must name, when not the opened one. */
  names?: (d: CaseDir) => string;
  /** Too large for the fuzz corpus, or made of several files. */
  notForCorpus?: boolean;
  /** The CLI shows it with `read` (its `info` works without a key, as qemu-img info does for encrypted images). */
  cliRead?: boolean;
}

/** Header field offsets (qcow2 spec). */
const H = {
  version: 4,
  backingOffset: 8,
  backingSize: 16,
  clusterBits: 20,
  size: 24,
  cryptMethod: 32,
  l1Size: 36,
  l1Offset: 40,
  reftableOffset: 48,
  reftableClusters: 56,
  nbSnapshots: 60,
  snapshotsOffset: 64,
  incompat: 72,
  refcountOrder: 96,
  headerLength: 100,
  compressionType: 104,
};
const TiB = 2 ** 40;

const l1Offset = (b: Uint8Array): number => u32(b, H.l1Offset) * 2 ** 32 + u32(b, H.l1Offset + 4);
const clusterBitsOf = (b: Uint8Array): number => u32(b, H.clusterBits);
const l2OffsetOf = (b: Uint8Array): number => entryOffset(u32(b, l1Offset(b)), u32(b, l1Offset(b) + 4));

/** Writes a header extension list (one record, then the end marker) right after the header. */
function putExtension(b: Uint8Array, type: number, data: Uint8Array): void {
  const at = u32(b, H.headerLength);
  setU32(b, at, type);
  setU32(b, at + 4, data.length);
  b.set(data, at + 8);
  const end = at + 8 + Math.ceil(data.length / 8) * 8;
  b.fill(0, end, end + 8);
}

/** Sets a backing file name right after the header extensions area. */
function putBackingName(b: Uint8Array, name: string): void {
  const bytes = new TextEncoder().encode(name);
  const at = 0x200;
  b.set(bytes, at);
  setU64(b, H.backingOffset, at);
  setU32(b, H.backingSize, bytes.length);
}

/** An image with a data cluster at guest 0 compressed, then the compressed bytes overwritten with garbage. */
function compressedGarbage(d: CaseDir, name: string, type: 'zlib' | 'zstd'): string {
  const raw = d.write(`${name}.raw`, Buffer.alloc(d.clusterSize * 2, 'compress me please '));
  const p = d.path(name);
  rmSync(p, { force: true });
  qemuImgSync(['convert', '-q', '-c', '-f', 'raw', '-O', 'qcow2', '-o', `cluster_size=${d.clusterSize},compression_type=${type}`, raw, p]);
  rmSync(raw);
  const b = new Uint8Array(readFileSync(p));
  const l2 = l2OffsetOf(b);
  const range = compressedRange(u32(b, l2), u32(b, l2 + 4), clusterBitsOf(b));
  if (!range) throw new Error('no compressed cluster at guest 0');
  for (let i = 0; i < range.length && range.offset + i < b.length; i++) b[range.offset + i] = (i * 151 + 7) & 0xff;
  writeFileSync(p, b);
  return p;
}

/** An image whose backing file is `backing` (recorded as given), made without opening the backing file. */
function withBacking(d: CaseDir, name: string, backing: string): string {
  return d.patched(name, (b) => {
    putBackingName(b, backing);
  });
}

/** An image with one persistent bitmap, patched with the offset of its header extension record. */
function withBitmap(d: CaseDir, name: string, patch: (b: Uint8Array, ext: number) => void): string {
  const p = d.base(name);
  qemuImgSync(['bitmap', '--add', p, 'b0']);
  const b = new Uint8Array(readFileSync(p));
  let at = u32(b, H.headerLength);
  while (u32(b, at) !== 0x23852875) at += 8 + Math.ceil(u32(b, at + 4) / 8) * 8;
  patch(b, at);
  writeFileSync(p, b);
  return p;
}

export const malformedCases: MalformedCase[] = [
  { name: 'empty file', when: 'open', reason: /^empty file/, build: (d) => d.write('empty.qcow2', new Uint8Array(0)) },
  { name: 'text file', when: 'open', reason: /not a qcow2 image/, build: (d) => d.write('notes.qcow2', 'These are my notes, not a disk image.\n'.repeat(40)) },
  { name: 'bad magic', when: 'open', reason: /bad magic/, build: (d) => d.patched('magic.qcow2', (b) => setU32(b, 0, 0x514649fa)) },
  { name: 'version 1', when: 'open', reason: /unsupported qcow2 version 1/, build: (d) => d.patched('v1.qcow2', (b) => setU32(b, H.version, 1)) },
  { name: 'version 4', when: 'open', reason: /unsupported qcow2 version 4/, build: (d) => d.patched('v4.qcow2', (b) => setU32(b, H.version, 4)) },
  { name: 'cluster_bits 8', when: 'open', reason: /cluster_bits 8 is outside/, build: (d) => d.patched('cb8.qcow2', (b) => setU32(b, H.clusterBits, 8)) },
  { name: 'cluster_bits 22', when: 'open', reason: /cluster_bits 22 is outside/, build: (d) => d.patched('cb22.qcow2', (b) => setU32(b, H.clusterBits, 22)) },
  {
    name: 'header_length below the v3 minimum',
    when: 'open',
    reason: /invalid header_length 100/,
    build: (d) => d.patched('hl100.qcow2', (b) => setU32(b, H.headerLength, 100)),
  },
  {
    name: 'header_length larger than a cluster',
    when: 'open',
    reason: /invalid header_length/,
    build: (d) => d.patched('hlbig.qcow2', (b) => setU32(b, H.headerLength, d.clusterSize + 8)),
  },
  {
    name: 'header_length not a multiple of 8',
    when: 'open',
    reason: /invalid header_length 109/,
    build: (d) => d.patched('hl109.qcow2', (b) => setU32(b, H.headerLength, 109)),
  },
  {
    name: 'unknown incompatible bit without a name',
    when: 'open',
    reason: /unsupported incompatible features: bit 10$/,
    build: (d) => d.patched('incompat.qcow2', (b) => setU32(b, H.incompat + 4, 1 << 10)),
  },
  {
    name: 'unknown incompatible bit named in the feature table',
    when: 'open',
    reason: /unsupported incompatible features: future-feature \(bit 10\), bit 40/,
    build: (d) =>
      d.patched('incompat-named.qcow2', (b) => {
        setU32(b, H.incompat + 4, 1 << 10);
        setU32(b, H.incompat, 1 << 8); // bit 40
        const entry = new Uint8Array(48);
        entry[0] = 0; // incompatible
        entry[1] = 10;
        entry.set(new TextEncoder().encode('future-feature'), 2);
        putExtension(b, 0x6803f857, entry);
      }),
  },
  { name: 'refcount_order 7', when: 'open', reason: /refcount_order 7 is above 6/, build: (d) => d.patched('ro7.qcow2', (b) => setU32(b, H.refcountOrder, 7)) },
  {
    name: 'misaligned L1 table',
    when: 'open',
    reason: /L1 table offset is not cluster-aligned/,
    build: (d) => d.patched('l1-misaligned.qcow2', (b) => setU64(b, H.l1Offset, l1Offset(b) + 512)),
  },
  {
    name: 'misaligned refcount table',
    when: 'open',
    reason: /refcount table offset is not cluster-aligned/,
    build: (d) => d.patched('rt-misaligned.qcow2', (b) => setU64(b, H.reftableOffset, d.clusterSize + 8)),
  },
  {
    name: 'misaligned snapshot table',
    when: 'open',
    reason: /snapshot table offset is not cluster-aligned/,
    build: (d) => {
      const p = d.base('snap-misaligned.qcow2');
      qemuImgSync(['snapshot', '-c', 's1', p]);
      const b = new Uint8Array(readFileSync(p));
      setU64(b, H.snapshotsOffset, u32(b, H.snapshotsOffset + 4) + 16);
      writeFileSync(p, b);
      return p;
    },
  },
  {
    name: 'L1 table over 32 MiB',
    when: 'open',
    reason: /L1 table is too large \(33554440 bytes/,
    build: (d) => d.patched('l1-huge.qcow2', (b) => setU32(b, H.l1Size, 4 * 1024 * 1024 + 1)),
  },
  {
    name: 'refcount table over 8 MiB',
    when: 'open',
    reason: /refcount table is too large/,
    build: (d) => d.patched('rt-huge.qcow2', (b) => setU32(b, H.reftableClusters, (8 * 1024 * 1024) / d.clusterSize + 1)),
  },
  {
    name: 'virtual size too large for the L1 table',
    when: 'open',
    reason: /L1 table is too small for the virtual size/,
    build: (d) => d.patched('size-vs-l1.qcow2', (b) => setU64(b, H.size, TiB)),
  },
  {
    name: 'virtual size beyond 2^53',
    when: 'open',
    reason: /size is out of range/,
    build: (d) => d.patched('size-2e60.qcow2', (b) => setU32(b, H.size, 0x10000000)),
  },
  {
    name: 'crypt_method 1 (AES)',
    when: 'open',
    reason: /image is encrypted \(AES\)/,
    cliRead: true,
    build: (d) => d.patched('aes.qcow2', (b) => setU32(b, H.cryptMethod, 1)),
  },
  {
    name: 'crypt_method 2 (LUKS)',
    when: 'open',
    reason: /image is encrypted \(LUKS\)/,
    build: (d) => d.patched('luks-flag.qcow2', (b) => setU32(b, H.cryptMethod, 2)),
  },
  {
    name: 'real LUKS-encrypted image',
    when: 'open',
    reason: /image is encrypted \(LUKS\); encryption is not supported/,
    notForCorpus: true,
    cliRead: true,
    build: (d) => {
      const p = d.path('luks.qcow2');
      rmSync(p, { force: true });
      qemuImgSync([
        'create',
        '-q',
        '-f',
        'qcow2',
        '--object',
        'secret,id=sec0,data=hunter2',
        '-o',
        `encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10,cluster_size=${d.clusterSize}`,
        p,
        '16M',
      ]);
      return p;
    },
  },
  {
    name: 'L1 table beyond the end of the file',
    when: 'open',
    reason: /L1 table lies beyond the end of the file/,
    build: (d) => d.patched('l1-eof.qcow2', (b) => setU64(b, H.l1Offset, TiB)),
  },
  {
    name: 'refcount table beyond the end of the file',
    when: 'open',
    reason: /refcount table lies beyond the end of the file/,
    build: (d) => d.patched('rt-eof.qcow2', (b) => setU64(b, H.reftableOffset, TiB)),
  },
  {
    name: 'no refcount table',
    when: 'open',
    reason: /image has no refcount table/,
    build: (d) => d.patched('rt-none.qcow2', (b) => setU32(b, H.reftableClusters, 0)),
  },
  {
    name: 'L2 table beyond the end of the file',
    when: 'write',
    reason: /L2 table at 0x10000000000 lies beyond the end of the file/,
    build: (d) => d.patched('l2-eof.qcow2', (b) => setU64(b, l1Offset(b), TiB)),
  },
  {
    name: 'L1 entry pointing to an unaligned L2 table',
    when: 'read',
    reason: /L1 entry 0 points to unaligned L2 table offset/,
    build: (d) => d.patched('l2-misaligned.qcow2', (b) => setU32(b, l1Offset(b) + 4, u32(b, l1Offset(b) + 4) + 512)),
  },
  {
    name: 'L2 entry pointing to an unaligned data cluster',
    when: 'read',
    reason: /L2 entry for guest offset 0x0 \(L1 0, L2 0\) points to unaligned host offset/,
    build: (d) => d.patched('data-misaligned.qcow2', (b) => setU32(b, l2OffsetOf(b) + 4, u32(b, l2OffsetOf(b) + 4) + 512)),
  },
  {
    name: 'data cluster beyond the end of the file',
    when: 'read',
    reason: /data cluster at 0x10000000000 lies beyond the end of the file/,
    build: (d) =>
      d.patched('data-eof.qcow2', (b) => {
        const l2 = l2OffsetOf(b);
        setU32(b, l2, 0x80000000 | (TiB / 2 ** 32));
        setU32(b, l2 + 4, 0);
      }),
  },
  {
    name: 'truncated inside the header',
    when: 'open',
    reason: /truncated header|not a qcow2 image/,
    build: (d) => d.write('trunc-header.qcow2', readFileSync(d.base('trunc-src.qcow2')).subarray(0, 50)),
  },
  {
    name: 'truncated after the header cluster',
    when: 'open',
    reason: /lies beyond the end of the file/,
    build: (d) => d.write('trunc-cluster.qcow2', readFileSync(d.base('trunc-src2.qcow2')).subarray(0, d.clusterSize)),
  },
  {
    name: 'header extension overrunning the header cluster',
    when: 'open',
    reason: /header extension 0x6803f857 \(\d+ bytes\) overruns the header cluster/,
    build: (d) =>
      d.patched('ext-overrun.qcow2', (b) => {
        putExtension(b, 0x6803f857, new Uint8Array(48));
        setU32(b, u32(b, H.headerLength) + 4, d.clusterSize);
      }),
  },
  {
    name: 'huge snapshot count',
    when: 'open',
    reason: /too many snapshots \(4294967295\)/,
    build: (d) =>
      d.patched('snap-count.qcow2', (b) => {
        setU32(b, H.nbSnapshots, 0xffffffff);
        setU64(b, H.snapshotsOffset, d.clusterSize);
      }),
  },
  {
    name: 'snapshot count larger than the snapshot table',
    when: 'open',
    reason: /snapshot table lies beyond the end of the file/,
    build: (d) => {
      const p = d.base('snap-short.qcow2');
      qemuImgSync(['snapshot', '-c', 's1', p]);
      const b = new Uint8Array(readFileSync(p));
      setU32(b, H.nbSnapshots, 65536);
      writeFileSync(p, b);
      return p;
    },
  },
  {
    name: 'bitmap directory beyond the end of the file',
    when: 'open',
    reason: /bitmap directory lies beyond the end of the file/,
    build: (d) => withBitmap(d, 'bitmap-eof.qcow2', (b, ext) => setU64(b, ext + 8 + 16, TiB)),
  },
  {
    name: 'misaligned bitmap directory',
    when: 'open',
    reason: /bitmap directory offset is not cluster-aligned/,
    build: (d) => withBitmap(d, 'bitmap-misaligned.qcow2', (b, ext) => setU64(b, ext + 8 + 16, d.clusterSize + 8)),
  },
  {
    name: 'bitmap name longer than 1023 bytes',
    when: 'open',
    reason: /bitmap 0 name is too long \(1024 bytes, limit 1023\)/,
    build: (d) =>
      withBitmap(d, 'bitmap-name.qcow2', (b, ext) => {
        const dir = u32(b, ext + 8 + 20);
        b[dir + 18] = 0x04;
        b[dir + 19] = 0x00; // refused by its length before the entry is bounds-checked against the directory
      }),
  },
  {
    name: 'backing file name longer than 1023 bytes',
    when: 'open',
    reason: /backing file name is too long \(1024 bytes\)/,
    build: (d) =>
      d.patched('backing-long.qcow2', (b) => {
        putBackingName(b, 'x'.repeat(1024));
      }),
  },
  {
    name: 'backing file name outside the header cluster',
    when: 'open',
    reason: /invalid backing file offset/,
    build: (d) =>
      d.patched('backing-off.qcow2', (b) => {
        setU64(b, H.backingOffset, d.clusterSize - 4);
        setU32(b, H.backingSize, 8);
      }),
  },
  {
    name: 'missing backing file',
    when: 'open',
    reason: /backing file .*gone\.qcow2 is missing/,
    notForCorpus: true,
    build: (d) => withBacking(d, 'orphan.qcow2', 'gone.qcow2'),
  },
  {
    name: 'backing file is itself',
    when: 'open',
    reason: /backing chain loops back to .*self\.qcow2/,
    notForCorpus: true,
    build: (d) => withBacking(d, 'self.qcow2', 'self.qcow2'),
  },
  {
    name: 'backing loop A -> B -> A',
    when: 'open',
    reason: /backing chain loops back to .*loop-a\.qcow2/,
    names: (d) => d.path('loop-b.qcow2'),
    notForCorpus: true,
    build: (d) => {
      withBacking(d, 'loop-b.qcow2', 'loop-a.qcow2');
      return withBacking(d, 'loop-a.qcow2', 'loop-b.qcow2');
    },
  },
  {
    name: 'backing chain deeper than 64',
    when: 'open',
    reason: /backing chain is deeper than 64 layers/,
    names: (d) => d.path('chain-64.qcow2'),
    notForCorpus: true,
    build: (d) => {
      const names = Array.from({ length: 67 }, (_, i) => `chain-${String(i).padStart(2, '0')}.qcow2`);
      const template = new Uint8Array(readFileSync(withBacking(d, names[0], names[1])));
      for (let i = 1; i < names.length; i++) {
        const b = template.slice();
        putBackingName(b, names[i + 1] ?? names[i]); // the last one loops onto itself, but depth trips first
        writeFileSync(d.path(names[i]), b);
      }
      return d.path(names[0]);
    },
  },
  {
    name: 'json: backing file name',
    when: 'open',
    reason: /json: backing file names are not supported/,
    notForCorpus: true,
    build: (d) => withBacking(d, 'json.qcow2', 'json:{"driver":"file","filename":"/etc/passwd"}'),
  },
  {
    name: 'external data file missing',
    when: 'open',
    cliWhen: 'read',
    reason: /cannot open external data file .*vanished\.raw/,
    notForCorpus: true,
    build: (d) => {
      const p = d.path('datafile.qcow2');
      rmSync(p, { force: true });
      qemuImgSync(['create', '-q', '-f', 'qcow2', '-o', `cluster_size=${d.clusterSize},data_file=${d.path('vanished.raw')}`, p, '1M']);
      rmSync(d.path('vanished.raw'));
      return p;
    },
  },
  {
    name: 'unknown compression type',
    when: 'open',
    reason: /unknown compression type 7/,
    build: (d) =>
      d.patched('ctype.qcow2', (b) => {
        b[H.compressionType] = 7;
        setU32(b, H.incompat + 4, 1 << 3);
      }),
  },
  {
    name: 'compression type without its feature bit',
    when: 'open',
    reason: /compression type field and compression-type feature bit disagree/,
    build: (d) => d.patched('ctype-bit.qcow2', (b) => (b[H.compressionType] = 1)),
  },
  {
    name: 'deflate-compressed cluster with garbage data',
    when: 'read',
    reason: /compressed cluster (cannot be decompressed|decompresses to)/,
    build: (d) => compressedGarbage(d, 'deflate-garbage.qcow2', 'zlib'),
  },
  {
    name: 'zstd-compressed cluster with garbage data',
    when: 'read',
    reason: /compressed cluster (cannot be decompressed|decompresses to)/,
    build: (d) => compressedGarbage(d, 'zstd-garbage.qcow2', 'zstd'),
  },
  {
    name: 'external data file bit without a data file name',
    when: 'open',
    cliWhen: 'read',
    reason: /needs an external data file but does not name one/,
    build: (d) => d.patched('datafile-bit.qcow2', (b) => setU32(b, H.incompat + 4, 1 << 2)),
  },
  {
    name: 'extended L2 subcluster both allocated and zero',
    when: 'read',
    reason: /subcluster 0 is marked both allocated and zero/,
    build: (d) =>
      d.patched(
        'extl2-both.qcow2',
        (b) => {
          const l2 = l2OffsetOf(b);
          setU32(b, l2 + 8, u32(b, l2 + 8) | 1); // zero bitmap
          setU32(b, l2 + 12, u32(b, l2 + 12) | 1); // allocation bitmap
        },
        ['extended_l2=on'],
      ),
  },
  {
    name: 'duplicate header extension',
    when: 'open',
    reason: /duplicate header extension 0xe2792aca/,
    build: (d) =>
      d.patched('ext-dup.qcow2', (b) => {
        const at = u32(b, H.headerLength);
        for (const rec of [at, at + 16]) {
          setU32(b, rec, 0xe2792aca);
          setU32(b, rec + 4, 3);
          b.set(new TextEncoder().encode('raw'), rec + 8);
        }
        b.fill(0, at + 32, at + 40);
      }),
  },
];

/** Builds every single-file case into `dir` (for the fuzz corpus); returns the paths that were made. */
export function buildCorpusCases(dir: string, clusterSize: number): string[] {
  const d = new CaseDir(dir, clusterSize);
  const out: string[] = [];
  for (const c of malformedCases) {
    if (c.notForCorpus) continue;
    try {
      out.push(c.build(d));
    } catch {
      // A case that needs a bigger cluster (e.g. an 8 MiB refcount table) simply is not in the corpus.
    }
  }
  return out;
}
