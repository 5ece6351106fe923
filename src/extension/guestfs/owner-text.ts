/** The hex inspector's owner line for a guest-disk byte: "/etc/hosts, offset 0x0", "ext4 inode table, group 3", "free space". */
import { volumeLabel, type DiskOwner } from './guest-disk';

export function ownerText(o: DiskOwner): { text: string; volume?: string } {
  const volume = o.volume ? `${volumeLabel(o.volume)} (${o.volume.content.type})` : undefined;
  const w = o.owner;
  if (w.kind === 'outside') return { text: o.volume ? `no readable file system` : 'outside any partition', volume };
  if (w.kind === 'free') return { text: 'free space', volume };
  if (w.kind === 'metadata') {
    const type = o.volume?.content.type ?? '';
    return { text: w.what.startsWith(type) || w.what.startsWith('/') ? w.what : `${type} ${w.what}`, volume };
  }
  const dir = w.kind === 'dir' ? ' (directory)' : '';
  return { text: `${w.path}${dir}, offset 0x${w.logical.toString(16)}`, volume };
}
