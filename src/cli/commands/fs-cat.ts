import { parseArgs, requirePositionals } from '../args';
import { writeOut, type CliCommand } from '../command';
import { withGuestFs } from '../fs-target';

const CHUNK = 4 * 1024 * 1024;

/** `fs cat IMAGE [N:]/path`: a guest file's bytes to stdout (symlinks followed). */
export const fsCatCommand: CliCommand = {
  name: 'cat',
  usage: 'cat IMAGE [N:]/path',
  summary: "write a guest file's bytes to stdout",
  async run(argv, io) {
    const [image, spec] = requirePositionals(parseArgs(argv, ''), ['IMAGE', '[N:]/path']);
    return withGuestFs(image, spec, async (fs, path) => {
      // Until a short read: the reader stops at the end of the file (of the symlink's target, followed).
      for (let at = 0; ; at += CHUNK) {
        const buf = await fs.read(path, at, CHUNK);
        if (buf.length) await writeOut(io.stdout, buf);
        if (buf.length < CHUNK) return 0;
      }
    });
  },
};
