import { parseArgs, outputFormat, requirePositionals } from '../args';
import { writeOut, type CliCommand } from '../command';
import { openForCheck, clusterUsage, type ClusterUsage } from '../../qcow2';

/** `usage`: what every host cluster of the image file holds. */
export const usageCommand: CliCommand = {
  name: 'usage',
  usage: 'usage [--output=human|json] IMAGE',
  summary: 'show host cluster usage by category (header, tables, data, compressed, snapshots, bitmaps, free, leaked)',
  async run(argv, io) {
    const args = parseArgs(argv, 'f');
    const format = outputFormat(args);
    const [path] = requirePositionals(args, ['IMAGE']);
    const dev = await openForCheck(path, true);
    try {
      const u = await clusterUsage(dev);
      await writeOut(io.stdout, format === 'json' ? usageJson(u, path) + '\n' : usageHuman(u));
      return 0;
    } finally {
      await dev.close();
    }
  },
};

export function usageJson(u: ClusterUsage, filename: string): string {
  return JSON.stringify(
    {
      filename,
      'cluster-size': u.clusterSize,
      'file-size': u.fileSize,
      'host-clusters': u.hostClusters,
      'shared-clusters': u.sharedClusters,
      categories: u.categories.map((c) => ({
        category: c.category,
        clusters: c.clusters,
        bytes: c.bytes,
        ranges: c.ranges.map((r) => ({ start: r.first * u.clusterSize, clusters: r.last - r.first + 1 })),
        ...(c.rangesTruncated ? { 'ranges-truncated': true } : {}),
      })),
    },
    null,
    4,
  );
}

export function usageHuman(u: ClusterUsage): string {
  const lines = [`${u.hostClusters} host clusters of ${u.clusterSize} bytes (${u.fileSize} bytes of file)`, ''];
  lines.push(`${'Category'.padEnd(20)} ${'Clusters'.padStart(12)} ${'Bytes'.padStart(16)} ${'Share'.padStart(8)}  Ranges`);
  for (const c of u.categories) {
    const share = u.hostClusters ? ((c.clusters * 100) / u.hostClusters).toFixed(2) + '%' : '-';
    const shown = c.ranges.slice(0, 4).map((r) => (r.first === r.last ? `${r.first}` : `${r.first}-${r.last}`));
    const more = c.ranges.length > 4 || c.rangesTruncated ? ` (+${c.ranges.length - 4}${c.rangesTruncated ? '+' : ''} more)` : '';
    lines.push(`${c.label.padEnd(20)} ${String(c.clusters).padStart(12)} ${String(c.bytes).padStart(16)} ${share.padStart(8)}  ${shown.join(', ')}${more}`);
  }
  if (u.sharedClusters) lines.push('', `${u.sharedClusters} clusters are referenced more than once (snapshots or overlapping metadata)`);
  return lines.join('\n') + '\n';
}
