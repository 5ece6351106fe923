// Makes the `npm start` demo with our own CLI only (dist/cli.js; no qemu-img, qemu-io or sfdisk):
//   base.raw     2 GiB raw base: a GPT (our writer, gpt.mjs) with an EFI system partition holding a FAT16 file
//                system (our writer, fat16.mjs; files in efi-files.mjs) and a Linux partition, and data
//   mid.qcow2    compressed clusters (`convert -c`), backed by base.raw (`rebase -u -b base.raw -F raw`)
//   demo.qcow2   the top layer, backed by mid.qcow2: plain data, zero clusters (`write -z`), a compressed
//                layer showing through, the raw base under both; an internal snapshot `before-cleanup`
//                (`snapshot -c`) that later writes differ from, and an enabled persistent bitmap `backup-0`
//                (`bitmap --add`, right after the snapshot) in which those later writes are dirty
//   node scripts/demo/make-demo.mjs DIR        (needs `npm run build` first)
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { efiVolumeHead } from './efi-files.mjs';
import { gptPieces, TYPE_EFI_SYSTEM, TYPE_LINUX_FS } from './gpt.mjs';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

function cli(args, input) {
  const r = spawnSync(process.execPath, [join(repo, 'dist/cli.js'), ...args], { input, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`qcow2-inspector ${args.join(' ')} failed: ${(r.stderr || r.error?.message || '').trim()}`);
  return r.stdout;
}

/** `count` bytes of a recognisable pattern: a text line repeated (compresses well). */
function text(line, count) {
  return Buffer.alloc(count, `${line}\n`);
}

/** Bytes that do not compress (a simple xorshift stream, seeded). */
function noise(count, seed) {
  const b = Buffer.alloc(count);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < count; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b.writeUInt32LE(x >>> 0, i);
  }
  return b;
}

export function makeDemo(dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const at = (name) => join(dir, name);
  const tmp = at('.work.qcow2');

  // The base: a GPT disk, made in a scratch qcow2 and flattened to raw with `convert -O raw`.
  const size = 2 * GiB;
  cli(['create', '-q', '-f', 'qcow2', tmp, String(size)]);
  const sectors = size / 512;
  const partitions = [
    { type: TYPE_EFI_SYSTEM, guid: '3B8F8426-1C67-4E4A-9E53-0D3B4F6C0A11', name: 'EFI System', first: 2048, last: 2048 + (128 * MiB) / 512 - 1 },
    { type: TYPE_LINUX_FS, guid: '7A1E3C55-2D44-4B8E-8C1F-5E6A7B8C9D22', name: 'Linux root', first: 2048 + (128 * MiB) / 512, last: sectors - 2048 - 1 },
  ];
  for (const [offset, bytes] of gptPieces(sectors, partitions, '5C7D2E90-8F41-4C3B-A6D7-1E2F3A4B5C6D')) cli(['write', '-q', tmp, String(offset), '-'], bytes);
  const efi = partitions[0];
  cli(['write', '-q', tmp, String(efi.first * 512), '-'], efiVolumeHead(efi.first, efi.last - efi.first + 1));
  cli(['write', '-q', tmp, String(129 * MiB), '-'], text('Linux root partition: /etc /usr /var', 8 * MiB));
  cli(['write', '-q', tmp, String(1 * GiB), '-'], noise(16 * MiB, 0x5eed));
  cli(['convert', '-O', 'raw', tmp, at('base.raw')]);
  rmSync(tmp);

  // The middle layer: compressed clusters over the base (converted alone, then pointed at the base).
  cli(['create', '-q', '-f', 'qcow2', tmp, String(size)]);
  cli(['write', '-q', tmp, String(256 * MiB), '-'], text('mid layer: compressed with convert -c', 8 * MiB));
  cli(['write', '-q', tmp, String(300 * MiB), '-'], noise(1 * MiB, 7)); // stays uncompressed
  cli(['convert', '-c', '-O', 'qcow2', tmp, at('mid.qcow2')]);
  rmSync(tmp);
  cli(['rebase', '-u', '-b', 'base.raw', '-F', 'raw', at('mid.qcow2')]);

  // The top layer: plain data and zero clusters, larger than its backing file.
  cli(['create', '-q', '-f', 'qcow2', '-b', 'mid.qcow2', '-F', 'qcow2', at('demo.qcow2'), String(4 * GiB)]);
  cli(['write', '-q', at('demo.qcow2'), String(129 * MiB), '-'], text('top layer: this write hides part of the base', 2 * MiB));
  cli(['write', '-z', '-q', at('demo.qcow2'), String(260 * MiB), String(2 * MiB)]);
  // An internal snapshot of the disk so far; the writes after it are what the snapshot does not have.
  cli(['snapshot', '-c', 'before-cleanup', at('demo.qcow2')]);
  // "What changed since the last backup": a bitmap from here on, which the writes below mark.
  cli(['bitmap', '--add', at('demo.qcow2'), 'backup-0']);
  cli(['write', '-z', '-q', at('demo.qcow2'), String(1 * GiB), String(4 * MiB)]);
  cli(['write', '-q', at('demo.qcow2'), String(3 * GiB), '-'], text('past the end of the backing chain', 32 * MiB));
  cli(['write', '-q', at('demo.qcow2'), String(130 * MiB), '-'], text('top layer, after the snapshot: the snapshot still has the old text', 64 * 1024));
  writeFileSync(at('README.txt'), 'Demo images made by scripts/demo/make-demo.mjs with the qcow2-inspector CLI.\n');
  return { image: at('demo.qcow2'), mid: at('mid.qcow2'), base: at('base.raw') };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) {
    console.error('usage: node scripts/demo/make-demo.mjs DIR');
    process.exit(2);
  }
  try {
    makeDemo(resolve(dir));
  } catch (err) {
    console.error(`make-demo: ${err.message}`);
    process.exit(1);
  }
}
