/**
 * The host side of one editor's Map tab: the map summary (bucketed, with partial results while a whole-disk scan
 * runs; a newer request cancels an older one), the run list, and what one guest offset or map cell maps to.
 * Messages arrive already validated (messages.ts).
 */
import type { Qcow2Dev } from '../qcow2';
import { MAX_RUN_ROWS, type HostMessage, type MapKind, type MapRun, type MappingDetail } from '../shared/protocol';
import { summarizeMap } from './map-summary';
import { runUnderCell } from './map-cell-run';
import { runsBefore, runsFrom } from './map-runs';
import { log, logTiming } from './log';

export class MapHost {
  /** The latest summary request: an older one still running stops. */
  private mapRequest = 0;

  constructor(
    private readonly imagePath: string,
    private readonly dev: () => Promise<Qcow2Dev>,
    private readonly post: (msg: HostMessage) => void,
  ) {}

  async summary(requestId: number, start: number, end: number, buckets: number): Promise<void> {
    const id = ++this.mapRequest;
    const dev = await this.dev();
    const layers: string[] = [];
    for (let l: { path: string; backing?: unknown } | undefined = dev; l; l = l.backing as typeof l) layers.push(l.path);
    const whole = start === 0 && end >= dev.info.virtualSize;
    const summary = await summarizeMap(dev, start, end, buckets, {
      requestId,
      layers,
      isCancelled: () => id !== this.mapRequest,
      onPartial: (s) => this.post({ type: 'mapSummary', data: s }),
    });
    if (!summary) return;
    this.post({ type: 'mapSummary', data: summary });
    if (whole) logTiming('map (whole disk scan)', summary.elapsedMs, this.imagePath);
    log().debug(`map ${start}..${end} in ${buckets} buckets: ${summary.elapsedMs} ms`);
  }

  async runs(requestId: number, from: number, count: number): Promise<void> {
    const dev = await this.dev();
    const n = Math.min(Math.abs(count), MAX_RUN_ROWS);
    const runs: MapRun[] =
      count > 0
        ? await runsFrom(dev, from, n)
        : await runsBefore(dev, from === dev.info.virtualSize - 1 ? dev.info.virtualSize : from, n, dev.info.l2SliceEntries * dev.info.clusterSize * 4);
    this.post({ type: 'mapRuns', requestId, from, runs, virtualSize: dev.info.virtualSize });
  }

  async mapping(requestId: number, offset: number, cell?: { end: number; kind: MapKind; depth: number }): Promise<void> {
    const dev = await this.dev();
    // A map cell: the whole run painted there (map-cell-run.ts); details (host offset, L1/L2) at the run's start.
    const under = cell ? await runUnderCell(dev, offset, cell.end, cell.kind, cell.depth, dev.info.l2SliceEntries * dev.info.clusterSize * 4) : undefined;
    const at = under ? under.run.start : offset;
    const m = await dev.getMapping(at);
    const d: MappingDetail = { requestId, offset, start: at, length: under ? under.run.length : m.length, kind: m.kind, depth: m.depth, file: m.file };
    if (under) d.clickOffset = under.clickOffset;
    if (m.hostOffset !== undefined) d.hostOffset = m.hostOffset;
    if (m.l1Index !== undefined) d.l1Index = m.l1Index;
    if (m.l2Index !== undefined) d.l2Index = m.l2Index;
    if (m.compressed) {
      d.compressedOffset = m.compressed.offset;
      d.compressedLength = m.compressed.length;
    }
    this.post({ type: 'mapping', data: d });
  }

  /** Stops a summary scan in progress (the panel closed). */
  dispose(): void {
    this.mapRequest++;
  }
}
