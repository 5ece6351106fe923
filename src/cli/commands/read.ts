import { parseArgs, parseSize, requirePositionals } from '../args';
import { writeOut, type CliCommand } from '../command';
import { openImage, Qcow2Error } from '../../qcow2';
import { atChoice, takeSnapshotOption } from '../snapshot-arg';
import { takeImageArgs } from '../image-secrets';

const READ_CHUNK = 4 * 1024 * 1024;

/** `read`: guest bytes (through the backing chain) to stdout. */
export const readCommand: CliCommand = {
  name: 'read',
  usage: 'read [--object secret,... --image-opts] [--passphrase-file FILE] [--snapshot NAME|ID] IMAGE OFFSET LENGTH',
  summary: 'write LENGTH guest bytes from OFFSET to stdout (sizes take k/M/G suffixes)',
  async run(argv, io) {
    const imageArgs = takeImageArgs(argv, io);
    const snap = takeSnapshotOption(imageArgs.argv);
    const args = parseArgs(snap.argv, 'f');
    const [spec, offText, lenText] = requirePositionals(args, ['IMAGE', 'OFFSET', 'LENGTH']);
    const { path, keys } = imageArgs.image(spec);
    const offset = parseSize(offText, 'offset');
    const length = parseSize(lenText, 'length');
    const image = await openImage(path, { readOnly: true, ...keys });
    try {
      const dev = await atChoice(image, snap.choice, path);
      if (offset + length > dev.virtualSize) {
        throw new Qcow2Error('range', `read of ${length} bytes at offset ${offset} is beyond the virtual size ${dev.virtualSize}`, path);
      }
      for (let pos = 0; pos < length; pos += READ_CHUNK) {
        const buf = new Uint8Array(Math.min(READ_CHUNK, length - pos));
        await dev.readAt(buf, offset + pos);
        await writeOut(io.stdout, buf);
      }
      return 0;
    } finally {
      await image.close();
    }
  },
};
