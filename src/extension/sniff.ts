/** Tells qcow2 files from others by their magic, so "Reopen Editor With…" on any file gives a clear message. */
import { open } from 'node:fs/promises';
import { QCOW2_MAGIC } from '../qcow2';

export async function sniffQcow2(path: string): Promise<{ ok: true } | { ok: false; reason: string }> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (err) {
    return { ok: false, reason: `cannot open the file (${(err as NodeJS.ErrnoException).code ?? String(err)})` };
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) return { ok: false, reason: 'not a regular file' };
    const b = Buffer.alloc(4);
    const { bytesRead } = await fh.read(b, 0, 4, 0);
    if (bytesRead < 4) return { ok: false, reason: `the file is too small to be a qcow2 image (${st.size} bytes)` };
    if (b.readUInt32BE(0) !== QCOW2_MAGIC) {
      return { ok: false, reason: `the file does not start with the qcow2 magic QFI\\xfb (it starts with 0x${b.toString('hex')})` };
    }
    return { ok: true };
  } finally {
    await fh.close();
  }
}
