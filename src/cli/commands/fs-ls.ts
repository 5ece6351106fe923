import { outputFormat, parseArgs, requirePositionals } from '../args';
import { BufferedOut, type CliCommand } from '../command';
import { joinPath } from '../../guestfs/path';
import type { FileStat } from '../../guestfs/index';
import { withGuestFs } from '../fs-target';
import { modeString } from '../fs-format';

/** `fs ls [-l] IMAGE [N:]/path`: a guest directory's entries (names and types; -l adds what stat gives). */
export const fsLsCommand: CliCommand = {
  name: 'ls',
  usage: 'ls [-l] [--output=human|json] IMAGE [N:]/path',
  summary: 'list a guest directory',
  async run(argv, io) {
    const args = parseArgs(argv, '', 'l');
    const format = outputFormat(args);
    const long = args.short.has('l');
    const [image, spec] = requirePositionals(args, ['IMAGE', '[N:]/path']);
    return withGuestFs(image, spec, async (fs, path) => {
      const entries = await fs.list(path);
      const out = new BufferedOut(io.stdout);
      if (format === 'json') await out.write('[');
      for (let i = 0; i < entries.length; i++) {
        const e = entries[i];
        const st: FileStat | undefined = long ? await fs.stat(joinPath(path, e.name)) : undefined;
        if (format === 'json') {
          const row: Record<string, unknown> = { name: e.name, type: e.type, id: e.id };
          if (e.size !== undefined) row.size = e.size;
          if (st)
            Object.assign(row, {
              size: st.size,
              mode: st.mode,
              uid: st.uid,
              gid: st.gid,
              links: st.links,
              mtime: st.mtime?.toISOString(),
              attributes: st.attributes,
              target: st.target,
            });
          await out.write((i ? ',\n' : '\n') + JSON.stringify(row));
        } else if (st) {
          const when = st.mtime ? st.mtime.toISOString().slice(0, 16).replace('T', ' ') : '';
          const name = st.target !== undefined ? `${e.name} -> ${st.target}` : e.name;
          await out.write(
            `${modeString(st)} ${String(st.links ?? 1).padStart(3)} ${String(st.uid ?? 0).padStart(5)} ${String(st.gid ?? 0).padStart(5)} ${String(st.size).padStart(12)} ${when} ${name}\n`,
          );
        } else await out.write(`${e.name}${e.type === 'dir' ? '/' : ''}\n`);
      }
      if (format === 'json') await out.write(entries.length ? '\n]\n' : ']\n');
      await out.flush();
      return 0;
    });
  },
};
