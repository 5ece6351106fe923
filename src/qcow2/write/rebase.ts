/**
 * qemu-img's unsafe rebase (`rebase -u -b NEW -F FMT`): only the header's backing file name and format change.
 * The header cluster is laid out as QEMU's qcow2_update_header lays it out (the backing format extension first,
 * the other extensions as they were, the end marker, then the name, zeros to the end of the cluster), so the
 * result is byte-identical to qemu-img's whenever the extensions do not move.
 *
 * Crash safety (QEMU writes the whole cluster at once, which a power cut can tear): the new name is first written
 * where nothing points (a spare place past everything in use) and synced; one 512-byte write of the first sector,
 * which holds the name's offset and length and the format extension's text, then switches name and format
 * together; the name is then copied to its final place, the first sector switched again, and the spare bytes
 * zeroed. A cut at any write leaves either the old name and format or the new ones. A change that would move
 * extensions past the first sector (adding or dropping the format extension on a full header) is refused.
 */
import { setU32, u32 } from '../format/bytes';
import { parseHeader } from '../format/header';
import { EXT_BACKING_FORMAT, EXT_END } from '../format/header-extensions';
import { readFully, type Qcow2IoOps } from '../io/ops';
import { Qcow2Error } from '../errors';

const SECTOR = 512;
/** QEMU refuses longer backing file names (qcow2_change_backing_file). */
const MAX_NAME = 1023;

/** The writes a rebase makes, in order, each followed by a sync (exported for tests). */
export interface RebasePlan {
  writes: Array<{ offset: number; bytes: Uint8Array }>;
  /** The header cluster once done. */
  final: Uint8Array;
}

const enc = new TextEncoder();
const pad8 = (n: number): number => Math.ceil(n / 8) * 8;

/** Plans the header change; throws a one-line Qcow2Error when it cannot be made, or not crash-safely. */
export function planRebase(cluster: Uint8Array, file: string, fileSize: number, name: string, format: string | undefined): RebasePlan {
  const fail = (reason: string) => new Qcow2Error('invalid-argument', `Could not change the backing file to '${name}': ${reason}`, file);
  const h = parseHeader(cluster, file, fileSize);
  const cs = 2 ** h.clusterBits;
  if (cluster.length < cs) throw new Qcow2Error('bad-image', 'the header cluster is truncated', file);
  const nameBytes = enc.encode(name);
  if (nameBytes.length > MAX_NAME) throw fail('Invalid argument (names are limited to 1023 bytes)');
  if (name !== '' && format === undefined) throw fail('backing format must be specified');
  if (format !== undefined && (format.length === 0 || format.length > 16 || !/^[a-z0-9_.-]+$/i.test(format))) throw fail(`unknown backing format '${format}'`);

  // The extension records as they are, without the backing format one.
  const start = h.headerLength;
  const records: Uint8Array[] = [];
  let oldExtEnd = start;
  let hadFormat = false;
  for (let off = start; off + 8 <= cs;) {
    const type = u32(cluster, off);
    const len = u32(cluster, off + 4);
    if (type === EXT_END) {
      oldExtEnd = off + 8;
      break;
    }
    const size = 8 + pad8(len);
    if (type === EXT_BACKING_FORMAT) hadFormat = true;
    else records.push(cluster.subarray(off, off + size));
    off += size;
    oldExtEnd = off;
  }
  // Removing the backing file keeps the format extension (unused then) rather than moving the others.
  const keepFormat = name === '' ? (hadFormat ? h.extensions.backingFormat : undefined) : format;
  const final = new Uint8Array(cs);
  final.set(cluster.subarray(0, start));
  let at = start;
  if (keepFormat !== undefined) {
    const f = enc.encode(keepFormat);
    setU32(final, at, EXT_BACKING_FORMAT);
    setU32(final, at + 4, f.length);
    final.set(f, at + 8);
    at += 8 + pad8(f.length);
  }
  for (const r of records) {
    final.set(r, at);
    at += r.length;
  }
  at += 8; // end marker (zeros)
  const nameAt = nameBytes.length ? at : 0;
  if (at + nameBytes.length > cs) throw fail('No space left on device (the name does not fit in the header cluster)');
  final.set(nameBytes, at);
  setOffsetAndSize(final, nameAt, nameBytes.length);

  // Everything past the first sector up to the new name must already be in place: one sector write switches.
  let inPlace = true;
  for (let i = SECTOR; i < Math.min(at, cs); i++) if (final[i] !== cluster[i]) inPlace = false;
  if (!inPlace) {
    if (!hadFormat && h.backingFile === undefined && keepFormat !== undefined) return appendFormat(cluster, cs, oldExtEnd, keepFormat, nameBytes, fail);
    throw fail('the header extensions would move past the first sector, which cannot be changed crash-safely');
  }
  const oldUsedEnd = Math.max(oldExtEnd, h.backingFileOffset + h.backingFileSize, at + nameBytes.length);
  const writes: RebasePlan['writes'] = [];
  if (nameBytes.length === 0) {
    writes.push({ offset: 0, bytes: final.slice(0, SECTOR) });
  } else {
    const spare = pad8(oldUsedEnd);
    if (spare + nameBytes.length > cs) throw fail('No space left on device (no room in the header cluster to write the new name safely)');
    // 1. the new name where nothing points; 2. first sector: name at the spare place, new format.
    writes.push({ offset: spare, bytes: nameBytes });
    const interim = final.slice(0, SECTOR);
    setOffsetAndSize(interim, spare, nameBytes.length);
    if (spare < SECTOR) interim.set(nameBytes.subarray(0, SECTOR - spare), spare);
    writes.push({ offset: 0, bytes: interim });
    // 3. the name at its final place (past the first sector; the part inside it comes with step 4).
    if (at + nameBytes.length > SECTOR) {
      const from = Math.max(SECTOR, at);
      writes.push({ offset: from, bytes: final.slice(from, at + nameBytes.length) });
    }
    // 4. first sector: name at its final place.
    writes.push({ offset: 0, bytes: final.slice(0, SECTOR) });
  }
  // 5. zeros over what is no longer used past the first sector (the old name, the spare copy), as QEMU leaves it.
  const spareEnd = nameBytes.length ? pad8(oldUsedEnd) + nameBytes.length : 0;
  const tailFrom = Math.max(SECTOR, at + nameBytes.length);
  const tailTo = Math.min(cs, Math.max(oldUsedEnd, spareEnd));
  if (tailTo > tailFrom && (spareEnd > tailFrom || cluster.subarray(tailFrom, tailTo).some((b) => b !== 0))) {
    writes.push({ offset: tailFrom, bytes: final.slice(tailFrom, tailTo) });
  }
  return { writes, final };
}

/**
 * An image without a backing file gains one, and QEMU's layout (format extension first) would move the others: the
 * format extension goes last instead, over the old end marker, with the new marker after it, in one write that must
 * stay inside one sector (else refused). The name is written first where nothing points, then the first sector
 * points at it. Nothing names a backing file until that last write, so a cut leaves no backing file or the new one.
 */
function appendFormat(cluster: Uint8Array, cs: number, oldExtEnd: number, format: string, name: Uint8Array, fail: (r: string) => Error): RebasePlan {
  const f = enc.encode(format);
  const record = new Uint8Array(8 + pad8(f.length) + 8);
  setU32(record, 0, EXT_BACKING_FORMAT);
  setU32(record, 4, f.length);
  record.set(f, 8);
  const recordAt = oldExtEnd - 8; // the old end marker
  const nameAt = recordAt + record.length;
  if (nameAt + name.length > cs) throw fail('No space left on device (the name does not fit in the header cluster)');
  if (Math.floor(recordAt / SECTOR) !== Math.floor((nameAt - 1) / SECTOR))
    throw fail('the header extensions would move across a sector boundary, which cannot be changed crash-safely');
  const final = cluster.slice(0, cs);
  final.set(record, recordAt);
  final.set(name, nameAt);
  final.fill(0, nameAt + name.length);
  setOffsetAndSize(final, nameAt, name.length);
  const writes: RebasePlan['writes'] = [];
  if (nameAt + name.length > SECTOR) writes.push({ offset: Math.max(nameAt, SECTOR), bytes: final.slice(Math.max(nameAt, SECTOR), nameAt + name.length) });
  if (recordAt >= SECTOR) writes.push({ offset: recordAt, bytes: record });
  writes.push({ offset: 0, bytes: final.slice(0, SECTOR) });
  return { writes, final };
}

function setOffsetAndSize(b: Uint8Array, offset: number, size: number): void {
  setU32(b, 8, 0);
  setU32(b, 12, offset);
  setU32(b, 16, size);
}

/** Rewrites the backing file name and format of the image open in `io` (see the file comment). */
export async function rebaseUnsafe(io: Qcow2IoOps, name: string, format: string | undefined): Promise<void> {
  const fileSize = await io.size();
  const first = new Uint8Array(Math.min(fileSize, SECTOR));
  await readFully(io, first, 0);
  const bits = first.length >= 24 ? u32(first, 20) : 0;
  const cs = bits >= 9 && bits <= 21 ? 2 ** bits : SECTOR;
  const cluster = new Uint8Array(Math.min(fileSize, cs));
  await readFully(io, cluster, 0);
  const plan = planRebase(cluster, io.path, fileSize, name, format);
  for (const w of plan.writes) {
    await io.writeAt(w.bytes, w.offset);
    await io.fsync();
  }
}
