/** Text forms of map entries, byte for byte as qemu-img 7.2 prints them. */
import { Qcow2Error, type MapEntry } from '../qcow2';

/** One element of the JSON array (qemu-img writes it by hand, with this spacing). */
export function mapEntryJson(e: MapEntry): string {
  let s = `{ "start": ${e.start}, "length": ${e.length}, "depth": ${e.depth}, "present": ${e.present}, "zero": ${e.zero}, "data": ${e.data}`;
  if (e.offset !== undefined) s += `, "offset": ${e.offset}`;
  return s + '}';
}

export const MAP_HUMAN_HEADER = `${'Offset'.padEnd(16)}${'Length'.padEnd(16)}${'Mapped to'.padEnd(16)}File\n`;

/** C's "%#-16" PRIx64: 0x-prefixed hex, except that zero prints as plain 0. */
function hex16(n: number): string {
  return (n === 0 ? '0' : '0x' + n.toString(16)).padEnd(16);
}

/**
 * The human line for an entry, or '' for ranges qemu-img does not list (zero or unallocated). Data without an
 * offset in an encrypted image ends the map with qemu-img's error (`encrypted`: the entry's layer is encrypted).
 */
export function mapEntryHuman(e: MapEntry, encrypted = false): string {
  if (!e.data || e.zero) return '';
  if (e.offset === undefined && encrypted) throw new Qcow2Error('unsupported', 'File contains external, encrypted or compressed clusters.');
  if (e.offset === undefined) return `${hex16(e.start)}${hex16(e.length)}${'-'.padEnd(16)}(compressed)\n`;
  return `${hex16(e.start)}${hex16(e.length)}${hex16(e.offset)}${e.file ?? ''}\n`;
}
