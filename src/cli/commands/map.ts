import { parseArgs, outputFormat, requirePositionals } from '../args';
import { BufferedOut, type CliCommand } from '../command';
import { openImage, mapEntries, SCAN_L2_CACHE_SLICES, Qcow2Dev, type BlockLayer } from '../../qcow2';
import { atChoice, takeSnapshotOption } from '../snapshot-arg';
import { takeImageArgs } from '../image-secrets';
import { mapEntryHuman, mapEntryJson, MAP_HUMAN_HEADER } from '../format-map';

/** `map`: where every guest range comes from, through the whole backing chain (qemu-img map). */
export const mapCommand: CliCommand = {
  name: 'map',
  usage: 'map [--object secret,... --image-opts] [--passphrase-file FILE] [--output=human|json] [--snapshot NAME|ID] IMAGE',
  summary: 'show where guest data lives, through the backing chain (as qemu-img map)',
  async run(argv, io) {
    const imageArgs = takeImageArgs(argv, io);
    const snap = takeSnapshotOption(imageArgs.argv);
    const args = parseArgs(snap.argv, 'f');
    const format = outputFormat(args);
    const [spec] = requirePositionals(args, ['IMAGE']);
    const { path, keys } = imageArgs.image(spec);
    // A map visits each L2 slice once, in order: a small cache keeps reusing the same few buffers.
    const image = await openImage(path, { readOnly: true, l2CacheSlices: SCAN_L2_CACHE_SLICES, ...keys });
    const out = new BufferedOut(io.stdout);
    try {
      const dev = await atChoice(image, snap.choice, path);
      const human = format === 'human';
      await out.write(human ? MAP_HUMAN_HEADER : '[');
      let first = true;
      // Entries are written as they come: a huge image never builds the whole map in memory.
      for await (const e of mapEntries(dev, path, { human })) {
        if (human) {
          const line = mapEntryHuman(e, layerEncrypted(dev, e.depth));
          if (line) await out.write(line);
        } else {
          await out.write((first ? '' : ',\n') + mapEntryJson(e));
          first = false;
        }
      }
      await out.write(human ? '' : ']\n');
      return 0;
    } finally {
      // Entries found before an error are still printed, as qemu-img does.
      await out.flush();
      await image.close();
    }
  },
};

function layerEncrypted(top: BlockLayer, depth: number): boolean {
  let layer: BlockLayer | undefined = top;
  for (let d = 0; d < depth && layer; d++) layer = layer.backing;
  return layer instanceof Qcow2Dev && layer.header.cryptMethod !== 0;
}
