import { parseArgs, outputFormat, requirePositionals } from '../args';
import { writeOut, type CliCommand } from '../command';
import { openImage } from '../../qcow2/open';
import { mapEntries } from '../../qcow2/map';
import { mapEntryHuman, mapEntryJson, MAP_HUMAN_HEADER } from '../format-map';

/** `map`: where every guest range comes from, through the whole backing chain (qemu-img map). */
export const mapCommand: CliCommand = {
  name: 'map',
  usage: 'map [--output=human|json] IMAGE',
  summary: 'show where guest data lives, through the backing chain (as qemu-img map)',
  async run(argv, io) {
    const args = parseArgs(argv, 'f');
    const format = outputFormat(args);
    const [path] = requirePositionals(args, ['IMAGE']);
    const dev = await openImage(path, { readOnly: true });
    try {
      const human = format === 'human';
      if (human) await writeOut(io.stdout, MAP_HUMAN_HEADER);
      else await writeOut(io.stdout, '[');
      let first = true;
      // Entries are written as they come: a huge image never builds the whole map in memory.
      for await (const e of mapEntries(dev, path, { human })) {
        if (human) {
          const line = mapEntryHuman(e);
          if (line) await writeOut(io.stdout, line);
        } else {
          await writeOut(io.stdout, (first ? '' : ',\n') + mapEntryJson(e));
          first = false;
        }
      }
      if (!human) await writeOut(io.stdout, ']\n');
      return 0;
    } finally {
      await dev.close();
    }
  },
};
