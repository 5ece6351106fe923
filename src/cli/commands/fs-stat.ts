import { outputFormat, parseArgs, requirePositionals } from '../args';
import { writeOut, type CliCommand } from '../command';
import { hostPieces, type HostPiece } from '../fs-host';
import { modeString } from '../fs-format';
import { volumeName, withGuestFs } from '../fs-target';

/** `fs stat IMAGE [N:]/path`: a guest file's metadata and extents, down to the image file offsets. */
export const fsStatCommand: CliCommand = {
  name: 'stat',
  usage: 'stat [--output=human|json] IMAGE [N:]/path',
  summary: "show a guest file's metadata and where its bytes lie (guest disk and image file)",
  async run(argv, io) {
    const args = parseArgs(argv, '');
    const format = outputFormat(args);
    const [image, spec] = requirePositionals(args, ['IMAGE', '[N:]/path']);
    return withGuestFs(image, spec, async (fs, path, dev, volume) => {
      const st = await fs.stat(path);
      const extents = st.type === 'file' || st.type === 'dir' ? await fs.extents(path) : [];
      const rows: { logical: number; 'guest-offset': number; length: number; host: HostPiece[] }[] = [];
      for (const e of extents)
        rows.push({ logical: e.logical, 'guest-offset': e.diskOffset, length: e.length, host: await hostPieces(dev, e.diskOffset, e.length) });
      const time = (d?: Date): string | undefined => d?.toISOString();
      if (format === 'json') {
        const json = {
          volume: volume.id,
          'fs-type': fs.info.type,
          path,
          type: st.type,
          id: st.id,
          size: st.size,
          mode: st.mode,
          uid: st.uid,
          gid: st.gid,
          links: st.links,
          mtime: time(st.mtime),
          atime: time(st.atime),
          ctime: time(st.ctime),
          crtime: time(st.crtime),
          attributes: st.attributes,
          streams: st.streams,
          target: st.target,
          extents: rows,
        };
        await writeOut(io.stdout, JSON.stringify(json, null, 4) + '\n');
        return 0;
      }
      const lines = [
        `File: ${path}${st.target !== undefined ? ` -> ${st.target}` : ''}`,
        `Volume: ${volumeName(volume)} (${fs.info.type})`,
        `Type: ${st.type}  Size: ${st.size}  Id: ${st.id}${st.links !== undefined ? `  Links: ${st.links}` : ''}`,
        `Mode: ${modeString(st)}${st.mode !== undefined ? ` (${(st.mode & 0o7777).toString(8).padStart(4, '0')})` : ''}${st.uid !== undefined ? `  Uid: ${st.uid}  Gid: ${st.gid}` : ''}`,
      ];
      if (st.attributes?.length) lines.push(`Attributes: ${st.attributes.join(', ')}`);
      for (const [k, d] of [
        ['Modify', st.mtime],
        ['Access', st.atime],
        ['Change', st.ctime],
        ['Birth', st.crtime],
      ] as const)
        if (d) lines.push(`${k}: ${d.toISOString()}`);
      if (st.streams?.length) lines.push(`Streams: ${st.streams.join(', ')}`);
      lines.push(`Extents: ${rows.length}`);
      if (rows.length) lines.push(`${'Logical'.padEnd(16)}${'Guest offset'.padEnd(20)}${'Length'.padEnd(16)}Host`);
      for (const r of rows) {
        const host = r.host.map((h) => (h.zero ? 'zero' : h.compressed ? `compressed in ${h.file}` : `0x${h.offset!.toString(16)} in ${h.file}`)).join('; ');
        lines.push(
          `${('0x' + r.logical.toString(16)).padEnd(16)}${('0x' + r['guest-offset'].toString(16)).padEnd(20)}${('0x' + r.length.toString(16)).padEnd(16)}${host}`,
        );
      }
      await writeOut(io.stdout, lines.join('\n') + '\n');
      return 0;
    });
  },
};
