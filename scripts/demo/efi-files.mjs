// The files in the demo's EFI system partition (a FAT16 volume from fat16.mjs): a few directories and files with
// long, mixed-case names, so the editor's file browser and `fs ls`/`fs cat` have something real to show.
import { fat16Pieces } from './fat16.mjs';

const file = (name, text) => ({ name, data: Buffer.from(text) });

function bootLog() {
  const lines = [];
  for (let i = 0; i < 120; i++) {
    const t = (i * 0.0173).toFixed(6).padStart(12, ' ');
    lines.push(`[${t}] demo-kernel: step ${String(i).padStart(3, '0')} of the boot, all well`);
  }
  return `${lines.join('\n')}\n`;
}

export const EFI_TREE = {
  name: '',
  children: [
    file('README.txt', 'This FAT16 volume was written by scripts/demo/fat16.mjs with the qcow2-inspector CLI.\n'),
    {
      name: 'etc',
      children: [
        file('hosts', '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n192.168.122.10\tdemo-guest.example demo-guest\n'),
        file('machine-info', 'PRETTY_HOSTNAME="qcow2 inspector demo"\nCHASSIS=vm\n'),
      ],
    },
    {
      name: 'logs',
      children: [file('boot.log', bootLog()), file('Kernel Messages 2026-12-03.log', 'demo-kernel: a long file name with spaces and case\n')],
    },
    { name: 'EFI', children: [{ name: 'BOOT', children: [file('BOOTX64.EFI', 'not a real boot loader: a placeholder for the demo\n')] }] },
  ],
};

/**
 * The volume's used head (boot sector, FATs, root directory, files) as one buffer for a partition of `sectors`
 * sectors at LBA `first`: one `write` instead of one per piece; the rest of the partition stays zero.
 */
export function efiVolumeHead(first, sectors) {
  const pieces = fat16Pieces(sectors, EFI_TREE, { label: 'DEMO-EFI', hiddenSectors: first });
  const head = Buffer.alloc(Math.max(...pieces.map(([at, bytes]) => at + bytes.length)));
  for (const [at, bytes] of pieces) bytes.copy(head, at);
  return head;
}
