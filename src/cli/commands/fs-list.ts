import { outputFormat, parseArgs, requirePositionals } from '../args';
import { writeOut, type CliCommand } from '../command';
import { GuestFsError, hasReader, openFs, type FsInfo, type Volume } from '../../guestfs/index';
import { volumeName, withDisk } from '../fs-target';

interface VolumeRow {
  id: string;
  kind: Volume['kind'];
  vg?: string;
  start: number;
  size: number;
  'partition-type'?: string;
  'partition-name'?: string;
  type: string;
  label?: string;
  uuid?: string;
  'block-size'?: number;
  clean?: boolean;
  warnings?: string[];
  error?: string;
}

/** `fs list IMAGE`: every partition, LV and file system found, with what each holds. */
export const fsListCommand: CliCommand = {
  name: 'list',
  usage: 'list [--output=human|json] IMAGE',
  summary: 'list partitions, logical volumes and the file systems in them',
  async run(argv, io) {
    const args = parseArgs(argv, '');
    const format = outputFormat(args);
    const [image] = requirePositionals(args, ['IMAGE']);
    return withDisk(image, async (_dev, layout) => {
      const rows: VolumeRow[] = [];
      for (const v of layout.volumes) rows.push(await describe(v));
      if (format === 'json') {
        const out = { 'partition-table': layout.table.scheme, 'sector-size': layout.table.sectorSize, volumes: rows, warnings: layout.warnings };
        await writeOut(io.stdout, JSON.stringify(out, null, 4) + '\n');
        return 0;
      }
      const lines = [`Partition table: ${layout.table.scheme}`];
      const head = ['ID', 'START', 'SIZE', 'TYPE', 'LABEL', 'UUID', 'STATE'];
      const table = rows.map((r) => [
        r.kind === 'disk' ? '(disk)' : r.kind === 'lv' ? `${r.vg}/${r.id}` : r.id,
        String(r.start),
        String(r.size),
        r.type,
        r.label ?? '',
        r.uuid ?? '',
        r.error ? `error: ${r.error}` : r.clean === undefined ? '' : r.clean ? 'clean' : 'not clean',
      ]);
      const widths = head.map((h, i) => Math.max(h.length, ...table.map((t) => t[i].length)));
      for (const t of [head, ...table])
        lines.push(
          t
            .map((c, i) => (i === t.length - 1 ? c : c.padEnd(widths[i])))
            .join('  ')
            .trimEnd(),
        );
      for (const r of rows) for (const w of r.warnings ?? []) lines.push(`warning: ${r.kind === 'disk' ? 'whole disk' : r.id}: ${w}`);
      for (const w of layout.warnings) lines.push(`warning: ${w}`);
      await writeOut(io.stdout, lines.join('\n') + '\n');
      return 0;
    });
  },
};

async function describe(v: Volume): Promise<VolumeRow> {
  const row: VolumeRow = { id: v.id, kind: v.kind, start: v.device.diskOffset, size: v.device.size, type: v.content.type };
  if (v.vg) row.vg = v.vg;
  if (v.partition) {
    row['partition-type'] = v.partition.typeName;
    if (v.partition.name) row['partition-name'] = v.partition.name;
  }
  if (v.content.label !== undefined) row.label = v.content.label;
  if (v.content.uuid !== undefined) row.uuid = v.content.uuid;
  if (v.problem) row.error = v.problem;
  else if (hasReader(v.content.type)) {
    try {
      const info: FsInfo = (await openFs(v.device, v.content.type)).info;
      Object.assign(row, { label: info.label, uuid: info.uuid, 'block-size': info.blockSize, clean: info.clean, warnings: info.warnings });
    } catch (err) {
      if (!(err instanceof GuestFsError)) throw err;
      row.error = `${volumeName(v)}: ${err.message}`;
    }
  }
  return row;
}
