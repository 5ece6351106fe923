/**
 * A header-only open for check and repair. Like QEMU in check mode it accepts tables that run past the end
 * of the file (the check reports them), while every other header rule of the normal open still applies.
 * The normal open (open.ts) is unchanged.
 */
import { NodeFileIo } from '../io/node';
import type { Qcow2IoOps } from '../io/ops';
import { parseHeader, readHeaderCluster } from '../format/header';
import { u32 } from '../format/bytes';
import { Qcow2Dev } from '../qcow2-dev';

/**
 * Opens an image file for checking: header parsed and validated, tables not loaded. LUKS-encrypted images
 * open too (their metadata is plain); such a device must not be used to read guest data.
 */
export async function openForCheck(path: string, readOnly: boolean, openIo?: (p: string, ro: boolean) => Promise<Qcow2IoOps>): Promise<Qcow2Dev> {
  const io = await (openIo ?? NodeFileIo.open)(path, readOnly);
  try {
    return await devForCheck(io, readOnly);
  } catch (err) {
    await io.close();
    throw err;
  }
}

export async function devForCheck(io: Qcow2IoOps, readOnly: boolean): Promise<Qcow2Dev> {
  const { bytes: buf, fileSize } = await readHeaderCluster(io);
  // Table extents are checked against the file by the check itself, not here: pretend the file is huge.
  // Encrypted images are checked too: the check reads metadata only (and counts the LUKS header), never data.
  const cryptMethod = buf.length >= 36 ? u32(buf, 32) : 0;
  const plain = cryptMethod === 2 ? buf.slice() : buf;
  if (plain !== buf) plain.fill(0, 32, 36);
  const header = parseHeader(plain, io.path, Math.max(fileSize, Number.MAX_SAFE_INTEGER), true);
  header.cryptMethod = cryptMethod;
  const dev = new Qcow2Dev(io.path, header, { readOnly }, io);
  dev.noteFileEnd(fileSize);
  return dev;
}
