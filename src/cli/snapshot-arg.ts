/** The internal snapshot a read-side command was asked for: `--snapshot NAME|ID` (read, map) or `-l` (convert). */
import { UsageError } from './args';
import type { Qcow2Dev, BlockLayer } from '../qcow2';
import { Qcow2Error } from '../qcow2';

export interface SnapshotChoice {
  key: string;
  by: 'id' | 'name' | 'any';
}

/** Removes `--snapshot X` / `--snapshot=X` from argv (parseArgs only knows the `=` form for long options). */
export function takeSnapshotOption(argv: string[]): { argv: string[]; choice?: SnapshotChoice } {
  const rest: string[] = [];
  let choice: SnapshotChoice | undefined;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      rest.push(...argv.slice(i));
      break;
    }
    if (a === '--snapshot' || a.startsWith('--snapshot=')) {
      const v = a === '--snapshot' ? argv[++i] : a.slice('--snapshot='.length);
      if (v === undefined || v === '') throw new UsageError('option --snapshot needs a snapshot name or id');
      choice = { key: v, by: 'any' };
    } else rest.push(a);
  }
  return { argv: rest, choice };
}

/** qemu-img convert's -l: `snapshot.id=ID`, `snapshot.name=NAME` (both: the snapshot must match both), or a bare id or name. */
export function parseConvertSnapshot(text: string): SnapshotChoice {
  if (!text.startsWith('snapshot.')) return { key: text, by: 'any' };
  let id: string | undefined;
  let name: string | undefined;
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    const v = eq < 0 ? '' : part.slice(eq + 1);
    if (k === 'snapshot.id') id = v;
    else if (k === 'snapshot.name') name = v;
    else throw new UsageError(`Invalid parameter '${k}'`);
  }
  if (id !== undefined && name !== undefined) return { key: `${id}\0${name}`, by: 'any' };
  if (id !== undefined) return { key: id, by: 'id' };
  if (name !== undefined) return { key: name, by: 'name' };
  throw new UsageError('-l needs snapshot.id=ID or snapshot.name=NAME');
}

/** The device to read: the image itself, or its read-only view at the chosen snapshot. */
export async function atChoice(dev: BlockLayer, choice: SnapshotChoice | undefined, path: string): Promise<BlockLayer> {
  if (!choice) return dev;
  if (dev.format !== 'qcow2') throw new Qcow2Error('unsupported', 'internal snapshots need a qcow2 image', path);
  const q = dev as Qcow2Dev;
  if (choice.key.includes('\0')) {
    const [id, name] = choice.key.split('\0');
    const byId = await q.atSnapshot(id, 'id');
    const snap = q.snapshots.find((s) => s.id === id);
    if (snap?.name !== name) throw new Qcow2Error('range', `snapshot id '${id}' with name '${name}' not found`, path);
    return byId;
  }
  return q.atSnapshot(choice.key, choice.by);
}
