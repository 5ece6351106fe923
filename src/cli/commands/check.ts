import { parseArgs, outputFormat, requirePositionals, UsageError } from '../args';
import { writeOut, type CliCommand, type CliIo } from '../command';
import {
  type Qcow2Dev,
  openForCheck,
  Qcow2Error,
  checkImage,
  probeDataFile,
  verifyBackingChain,
  type CheckResultEx,
  type RepairMode,
  type CheckSummary,
} from '../../qcow2';

/** `check`: integrity check and repair with qemu-img check's output and exit codes. */
export const checkCommand: CliCommand = {
  name: 'check',
  usage: 'check [--output=human|json] [-r leaks|all] [--no-backing] IMAGE',
  summary:
    'check (and repair) refcounts and metadata, as qemu-img check (exit 0 clean, 2 corrupt, 3 leaks); a broken backing chain fails with exit 1 unless --no-backing',
  async run(argv, io) {
    const args = parseArgs(argv, 'rf');
    const format = outputFormat(args);
    const [path] = requirePositionals(args, ['IMAGE']);
    const r = args.short.get('r') ?? args.long.get('repair');
    if (r !== undefined && r !== 'leaks' && r !== 'all') throw new UsageError(`-r must be leaks or all, not '${r}'`);
    const repair = r as RepairMode | undefined;
    // qemu-img cannot open an image whose backing chain is broken, so it cannot check it either (and on a loop it
    // hangs); --no-backing checks the image's own metadata anyway.
    if (!args.long.has('no-backing')) {
      const broken = await verifyBackingChain(path);
      if (broken) throw new Qcow2Error('backing', broken.message);
    }
    let dev: Qcow2Dev;
    try {
      dev = await openForCheck(path, !repair);
    } catch (err) {
      if (err instanceof Qcow2Error && /not a qcow2 image/.test(err.reason)) {
        // qemu-img probes such a file as raw, which cannot be checked.
        io.stderr.write(`qcow2-inspector: ${path}: this image format does not support checks\n`);
        return 63;
      }
      throw err;
    }
    try {
      const noData = await probeDataFile(path, dev.info.hasDataFile, dev.header.extensions.dataFile);
      if (noData) throw new Qcow2Error('backing', noData, path);
      const result = await checkImage(dev, { repair });
      if (repair) await dev.io.fsync();
      return await report(result, path, format, io);
    } finally {
      await dev.close();
    }
  },
};

/** qemu-img follows each refcount overflow line with this advice (iotest 112). */
const OVERFLOW_ADVICE =
  'Use qemu-img amend to increase the refcount entry width or qemu-img convert to create a clean copy if the image cannot be opened for writing';

async function report(result: CheckResultEx, path: string, format: 'human' | 'json', io: CliIo): Promise<number> {
  // Detail lines go to stderr, as qemu-img prints them.
  const findings = [...(result.repairFindings ?? []), ...result.findings];
  const lines = findings.map((f) => (f.kind === 'refcount-overflow' ? `${f.qemuLine}\n${OVERFLOW_ADVICE}` : f.qemuLine));
  const dropped = result.findingsDropped;
  if (lines.length) io.stderr.write(lines.join('\n') + '\n' + (dropped ? `(${dropped} more findings not shown)\n` : ''));
  if (result.failure) {
    io.stderr.write(`qcow2-inspector: ${path}: check failed: ${result.failure}\n`);
    return 1;
  }
  const s = result.summary;
  if (format === 'json') await writeOut(io.stdout, checkJson(s, path) + '\n');
  else {
    let out = '';
    if (s.corruptionsFixed || s.leaksFixed) {
      out +=
        'The following inconsistencies were found and repaired:\n\n' +
        `    ${s.leaksFixed} leaked clusters\n    ${s.corruptionsFixed} corruptions\n\n` +
        'Double checking the fixed image now...\n';
    }
    out += checkHuman(s);
    await writeOut(io.stdout, out);
  }
  return result.exitCode;
}

/** qemu-img's human summary (dump_human_image_check). */
export function checkHuman(s: CheckSummary): string {
  let out = '';
  if (!(s.corruptions || s.leaks || s.checkErrors)) out += 'No errors were found on the image.\n';
  else {
    if (s.corruptions) out += `\n${s.corruptions} errors were found on the image.\nData may be corrupted, or further writes to the image may corrupt it.\n`;
    if (s.leaks) out += `\n${s.leaks} leaked clusters were found on the image.\nThis means waste of disk space, but no harm to data.\n`;
    if (s.checkErrors) out += `\n${s.checkErrors} internal errors have occurred during the check.\n`;
  }
  if (s.totalClusters && s.allocatedClusters) {
    const pct = (a: number, b: number): string => printfFixed2((a * 100) / b);
    out += `${s.allocatedClusters}/${s.totalClusters} = ${pct(s.allocatedClusters, s.totalClusters)}% allocated, ${pct(s.fragmentedClusters, s.allocatedClusters)}% fragmented, ${pct(s.compressedClusters, s.allocatedClusters)}% compressed clusters\n`;
  }
  if (s.imageEndOffset) out += `Image end offset: ${s.imageEndOffset}\n`;
  return out;
}

/**
 * `printf("%.2f", x)` as glibc prints it: an exact tie (x = j/8 for odd j, the only doubles ending in 5 at the
 * third decimal) rounds to the even neighbour, where toFixed picks the larger (32/1024 = 3.125 % prints 3.12).
 */
export function printfFixed2(x: number): string {
  const j = x * 8; // exact: a power-of-two multiple
  if (!Number.isInteger(j) || Math.abs(j) % 2 !== 1) return x.toFixed(2);
  const lo = Math.floor(x * 100);
  return ((lo % 2 === 0 ? lo : lo + 1) / 100).toFixed(2);
}

/** qemu-img's JSON: optional counters omitted when zero, keys in the order qemu-img prints them. */
export function checkJson(s: CheckSummary, filename: string): string {
  const fields: [string, number | string, boolean][] = [
    ['image-end-offset', s.imageEndOffset, false],
    ['compressed-clusters', s.compressedClusters, false],
    ['total-clusters', s.totalClusters, false],
    ['corruptions', s.corruptions, false],
    ['corruptions-fixed', s.corruptionsFixed, false],
    ['check-errors', s.checkErrors, true],
    ['leaks', s.leaks, false],
    ['leaks-fixed', s.leaksFixed, false],
    ['allocated-clusters', s.allocatedClusters, false],
    ['filename', filename, true],
    ['format', 'qcow2', true],
    ['fragmented-clusters', s.fragmentedClusters, false],
  ];
  const body = fields.filter(([, v, always]) => always || v !== 0).map(([k, v]) => `    ${JSON.stringify(k)}: ${JSON.stringify(v)}`);
  return `{\n${body.join(',\n')}\n}`;
}
