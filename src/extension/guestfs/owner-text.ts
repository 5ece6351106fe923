/** The hex inspector's owner line for a guest-disk byte: "/etc/hosts, offset 0x0", "ext4 inode table, group 3", "free space". */
import { volumeKey, volumeName, type DiskOwner } from './guest-disk';

export interface OwnerLine {
  text: string;
  /** The volume it lies in: "partition 1 (ext4)". */
  volume?: string;
  /** A file or directory owns it: where the Files tab finds it. */
  file?: { volume: string; path: string };
}

export function ownerText(o: DiskOwner): OwnerLine {
  const volume = o.volume ? `${volumeName(o.volume)} (${o.volume.content.type})` : undefined;
  const w = o.owner;
  if (w.kind === 'outside') return { text: o.volume ? `no readable file system` : 'outside any partition', volume };
  if (w.kind === 'free') return { text: 'free space', volume };
  if (w.kind === 'metadata') {
    const type = o.volume?.content.type ?? '';
    return { text: w.what.startsWith(type) || w.what.startsWith('/') ? w.what : `${type} ${w.what}`, volume };
  }
  const dir = w.kind === 'dir' ? ' (directory)' : '';
  const file = o.volume ? { volume: volumeKey(o.volume), path: w.path } : undefined;
  return { text: `${w.path}${dir}, offset 0x${w.logical.toString(16)}`, volume, file };
}
