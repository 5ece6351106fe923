import { parseArgs, outputFormat, requirePositionals } from '../args';
import { writeOut, type CliCommand } from '../command';
import { openImage, resolveRelative, NodeFileIo, readFully, QCOW2_MAGIC, u32, type BlockLayer, Qcow2Dev, qemuPathCombine } from '../../qcow2';
import { qemuJson } from '../format-json';
import { infoHuman, layerInfo, type ImageInfoJson } from '../format-info';
import { takeImageArgs } from '../image-secrets';

/** `info`: the image's header facts, as qemu-img info prints them. */
export const infoCommand: CliCommand = {
  name: 'info',
  usage: 'info [--object secret,... --image-opts] [--passphrase-file FILE] [--output=human|json] [--backing-chain] IMAGE',
  summary: 'show image facts: sizes, backing file, snapshots, features (as qemu-img info)',
  async run(argv, io) {
    const imageArgs = takeImageArgs(argv, io);
    const args = parseArgs(imageArgs.argv, 'f');
    const format = outputFormat(args);
    const chain = args.long.has('backing-chain');
    const [spec] = requirePositionals(args, ['IMAGE']);
    const { path, keys } = imageArgs.image(spec);
    // Without --backing-chain the backing file is not opened: info works even when it is missing, as in qemu-img.
    const top = await openImage(path, { readOnly: true, openBacking: chain, dataFileOptional: true, allowLocked: true, ...keys });
    try {
      const layers: { info: ImageInfoJson; probed?: string }[] = [];
      let name = path;
      for (let layer: BlockLayer | undefined = top; layer; layer = layer.backing) {
        const info = await layerInfo(layer, name);
        const probed = info['backing-filename-format-probed'] ? await probedFormat(layer as Qcow2Dev) : undefined;
        layers.push({ info, probed });
        if (!chain) break;
        const recorded = layer instanceof Qcow2Dev ? layer.header.backingFile : undefined;
        if (recorded !== undefined) name = qemuPathCombine(name, recorded);
      }
      if (format === 'json') {
        const value = chain ? layers.map((l) => l.info) : layers[0].info;
        await writeOut(io.stdout, qemuJson(value) + '\n');
      } else {
        await writeOut(io.stdout, layers.map((l) => infoHuman(l.info, l.probed)).join('\n'));
      }
      return 0;
    } finally {
      await top.close();
    }
  },
};

/** What format the backing file would be probed as ('qcow2' or 'raw'), or undefined when it cannot be read. */
async function probedFormat(dev: Qcow2Dev): Promise<string | undefined> {
  if (dev.backing) return dev.backing.format;
  try {
    const f = await NodeFileIo.open(resolveRelative(dev.path, dev.header.backingFile!), true);
    try {
      const magic = new Uint8Array(4);
      return (await readFully(f, magic, 0)) === 4 && u32(magic, 0) === QCOW2_MAGIC ? 'qcow2' : 'raw';
    } finally {
      await f.close();
    }
  } catch {
    return undefined;
  }
}
