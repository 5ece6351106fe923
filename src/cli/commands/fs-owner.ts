import { outputFormat, parseArgs, parseSize, requirePositionals, UsageError } from '../args';
import { writeOut, type CliCommand } from '../command';
import { hasReader, openFs, volumeAtDiskOffset, type Owner } from '../../guestfs/index';
import { guarded, volumeName, withDisk } from '../fs-target';

/** `fs owner IMAGE OFFSET`: what the guest-disk byte at OFFSET belongs to (a file, metadata, free space). */
export const fsOwnerCommand: CliCommand = {
  name: 'owner',
  usage: 'owner [--output=human|json] IMAGE OFFSET',
  summary: 'show which guest file or file-system structure owns a guest-disk offset',
  async run(argv, io) {
    const args = parseArgs(argv, '');
    const format = outputFormat(args);
    const [image, offText] = requirePositionals(args, ['IMAGE', 'OFFSET']);
    const offset = parseSize(offText, 'offset');
    return withDisk(image, async (dev, layout) => {
      if (offset >= dev.virtualSize) throw new UsageError(`offset ${offset} is beyond the virtual size ${dev.virtualSize}`);
      const hit = volumeAtDiskOffset(layout, offset);
      let result: Record<string, unknown> & { owner: Owner | { kind: 'outside' } };
      if (!hit) result = { offset, owner: { kind: 'outside' } };
      else {
        const { volume, deviceOffset } = hit;
        const base = { offset, volume: volume.id, 'volume-offset': deviceOffset, type: volume.content.type };
        if (!hasReader(volume.content.type) || volume.problem) result = { ...base, owner: { kind: 'outside' } };
        else {
          const where = `${volumeName(volume)}: offset ${offset}`;
          const fs = await guarded(image, where, () => openFs(volume.device, volume.content.type));
          result = { ...base, owner: await guarded(image, where, () => fs.owner(deviceOffset)) };
        }
      }
      if (format === 'json') {
        await writeOut(io.stdout, JSON.stringify(result, null, 4) + '\n');
        return 0;
      }
      const o = result.owner;
      const vol = hit ? `${volumeName(hit.volume)} (${hit.volume.content.type})` : 'no volume';
      const what =
        o.kind === 'outside'
          ? 'outside any readable file system'
          : o.kind === 'free'
            ? 'free space'
            : o.kind === 'metadata'
              ? `file-system metadata: ${o.what}`
              : `${o.kind === 'dir' ? 'directory' : 'file'} ${o.path}, offset 0x${o.logical.toString(16)}`;
      await writeOut(io.stdout, `${offset}: ${vol}: ${what}\n`);
      return 0;
    });
  },
};
