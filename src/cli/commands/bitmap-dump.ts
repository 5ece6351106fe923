import { outputFormat, requirePositionals, type ParsedArgs } from '../args';
import { BufferedOut, type CliIo } from '../command';
import { dirtyRanges, openImage, Qcow2Error } from '../../qcow2';

/**
 * `bitmap --dump [--output=json] IMAGE NAME`: the dirty ranges of a persistent bitmap, streamed (our addition to
 * qemu-img's bitmap command). JSON is `[{"start": n, "length": n}]`; a bitmap marked in use (QEMU stopped without
 * storing it) is inconsistent, as qemu-img check says: it is refused rather than shown as if it were right.
 */
export async function bitmapDump(args: ParsedArgs, io: CliIo): Promise<number> {
  const format = outputFormat(args);
  const [path, name] = requirePositionals(args, ['IMAGE', 'NAME']);
  const dev = await openImage(path, { readOnly: true, openBacking: false });
  const out = new BufferedOut(io.stdout);
  try {
    const bm = dev.bitmaps.find((b) => b.name === name);
    if (!bm) throw new Qcow2Error('range', `Dirty bitmap '${name}' not found`, path);
    if (bm.flagNames.includes('in-use'))
      throw new Qcow2Error('bad-image', `bitmap '${name}' is marked in use: it is inconsistent (QEMU did not store it)`, path);
    const json = format === 'json';
    await out.write(json ? '[' : `bitmap '${name}': granularity ${2 ** bm.granularityBits}, ${bm.flagNames.includes('auto') ? 'enabled' : 'disabled'}\n`);
    let n = 0;
    for await (const r of dirtyRanges({ io: dev.io, clusterSize: dev.info.clusterSize, virtualSize: dev.virtualSize, fileSize: dev.fileSize }, bm)) {
      await out.write(json ? `${n ? ',' : ''}\n  { "start": ${r.start}, "length": ${r.length} }` : `0x${r.start.toString(16)} +0x${r.length.toString(16)}\n`);
      n++;
    }
    await out.write(json ? (n ? '\n]\n' : ']\n') : '');
    return 0;
  } finally {
    await out.flush();
    await dev.close();
  }
}
