/**
 * What an integrity check reports: findings (one per problem, classified as qemu-img does) and the summary
 * with qemu-img check's fields.
 */

export type FindingKind =
  | 'refcount-too-low' // on-disk refcount below the references found: corruption
  | 'leaked-cluster' // on-disk refcount above the references found: leak
  | 'reference-beyond-eof' // metadata points one cluster or more past the end of the file
  | 'refcount-overflow' // more references than the refcount width can hold
  | 'copied-flag' // COPIED flag disagrees with the refcount (L1 or L2 entry)
  | 'compressed-copied' // a compressed L2 entry has COPIED set
  | 'reserved-bits' // reserved bits set in an L1, L2 or refcount-table entry
  | 'unaligned' // an offset that must be cluster-aligned is not
  | 'subcluster-bitmap' // extended L2 bitmap invalid (allocated and zero, or allocated without a cluster)
  | 'compressed-invalid' // compressed entry that cannot be valid (bitmap set, external data file)
  | 'refblock-outside-image' // a refcount block lies past the end of the file
  | 'refblock-refcount' // a refcount block's own refcount is not exactly 1
  | 'snapshot-table' // the snapshot table or one of its entries is broken
  | 'bitmaps' // the bitmap directory or a bitmap table is broken
  | 'check-error'; // the check itself could not read something

export type Severity = 'corruption' | 'leak' | 'error';

export interface CheckFinding {
  kind: FindingKind;
  severity: Severity;
  /** Host file offset the finding is about (the cluster, entry or table). */
  hostOffset?: number;
  /** Guest (virtual) offsets affected, where known (active L2 entries only). */
  virtualOffsets?: number[];
  /** The snapshot whose tables hold the bad entry, when not the active image. */
  snapshot?: string;
  /** Plain-language explanation. */
  message: string;
  /** The line qemu-img check prints for the same problem. */
  qemuLine: string;
  /** True when a repair fixed it. */
  repaired?: boolean;
}

/** qemu-img check's counters (BdrvCheckResult plus the fragmentation info). */
export interface CheckSummary {
  checkErrors: number;
  corruptions: number;
  leaks: number;
  corruptionsFixed: number;
  leaksFixed: number;
  imageEndOffset: number;
  totalClusters: number;
  allocatedClusters: number;
  fragmentedClusters: number;
  compressedClusters: number;
}

export function emptySummary(): CheckSummary {
  return {
    checkErrors: 0,
    corruptions: 0,
    leaks: 0,
    corruptionsFixed: 0,
    leaksFixed: 0,
    imageEndOffset: 0,
    totalClusters: 0,
    allocatedClusters: 0,
    fragmentedClusters: 0,
    compressedClusters: 0,
  };
}

export interface CheckResult {
  summary: CheckSummary;
  /** Problems found (after a repair: those still present on the re-check). */
  findings: CheckFinding[];
  /** After a repair: what the repairing pass found and fixed or could not fix. */
  repairFindings?: CheckFinding[];
  /** Findings dropped because there were too many to keep (the counts stay exact). */
  findingsDropped: number;
  /** qemu-img's exit code for this result: 0 clean, 1 check errors, 2 corruptions, 3 leaks only. */
  exitCode: 0 | 1 | 2 | 3;
}

export function exitCodeFor(s: CheckSummary): 0 | 1 | 2 | 3 {
  if (s.checkErrors) return 1;
  if (s.corruptions) return 2;
  if (s.leaks) return 3;
  return 0;
}

/** Keeps findings up to a bound so that a badly broken large image cannot exhaust memory. */
export class FindingSink {
  readonly items: CheckFinding[] = [];
  dropped = 0;
  constructor(private readonly limit = 10_000) {}

  /** True once no more findings are kept: callers may then just count them with `drop`. */
  get full(): boolean {
    return this.items.length >= this.limit;
  }

  drop(count: number): void {
    this.dropped += count;
  }

  /** Adds `times` copies of a finding (one per occurrence, as qemu-img prints one line each). */
  add(f: CheckFinding, times = 1): void {
    const keep = Math.max(0, Math.min(times, this.limit - this.items.length));
    for (let i = 0; i < keep; i++) this.items.push(i ? { ...f } : f);
    this.dropped += times - keep;
  }
}

export const hex = (n: number): string => n.toString(16);

/** A 64-bit entry from its two words, in hex without leading zeros (as qemu-img prints entries). */
export const hex64 = (hi: number, lo: number): string => (hi ? hi.toString(16) + lo.toString(16).padStart(8, '0') : lo.toString(16));

/**
 * The COPIED-flag findings of check_oflag_copied, for an L1 entry (`l1Index`) or an L2 entry (`guest`). Their
 * qemuLine lacks qemu's leading word, which is "ERROR" when counted and "Repairing" when fixed.
 */
export function l1CopiedFinding(l1TableOffset: number, l1Index: number, hi: number, lo: number, refcount: number): CheckFinding {
  return {
    kind: 'copied-flag',
    severity: 'corruption',
    hostOffset: l1TableOffset + l1Index * 8,
    message: `L1 entry ${l1Index} has COPIED ${hi & 0x80000000 ? 'set' : 'clear'} but its L2 table's refcount is ${refcount}`,
    qemuLine: ` OFLAG_COPIED L2 cluster: l1_index=${l1Index} l1_entry=${hex64(hi, lo)} refcount=${refcount}`,
  };
}

export function l2CopiedFinding(host: number, guest: number, hi: number, lo: number, refcount: number, note = ''): CheckFinding {
  return {
    kind: 'copied-flag',
    severity: 'corruption',
    hostOffset: host,
    virtualOffsets: [guest],
    message: `L2 entry for guest offset 0x${hex(guest)} has COPIED ${hi & 0x80000000 ? 'set' : 'clear'} but its data cluster's refcount is ${refcount}${note}`,
    qemuLine: ` OFLAG_COPIED data cluster: l2_entry=${hex64(hi, lo)} refcount=${refcount}`,
  };
}

// Builders for the findings of the reference walk (walk.ts, l2-entries.ts), in walk order. Each keeps qemu-img
// check's line for the same problem word for word: tests compare them with qemu's output.

/** Where an L2 entry is, for findings: its guest offset (active table) or its snapshot, and how to say it. */
export interface L2EntryPlace {
  guest: number;
  active: boolean;
  snapshot?: string;
  /** "guest offset 0x…" or "snapshot s, L1 entry i, L2 entry j", plus any "(counted n times …)" note. */
  where: string;
}

const l2Fields = (p: L2EntryPlace): Pick<CheckFinding, 'virtualOffsets' | 'snapshot'> => ({
  virtualOffsets: p.active ? [p.guest] : undefined,
  snapshot: p.snapshot,
});

export function referenceBeyondEof(owner: string, offset: number, offsetHex: string, size: number, fileSize: number): CheckFinding {
  return {
    kind: 'reference-beyond-eof',
    severity: 'corruption',
    hostOffset: Number.isFinite(offset) ? offset : undefined,
    message: `${owner} at host offset 0x${offsetHex} (${size} bytes) lies past the end of the file (${fileSize} bytes)`,
    qemuLine: `ERROR: counting reference for region exceeding the end of the file by one cluster or more: offset 0x${offsetHex} size 0x${hex(size)}`,
  };
}

export function refcountOverflow(host: number, refcountBits: number): CheckFinding {
  return {
    kind: 'refcount-overflow',
    severity: 'corruption',
    hostOffset: host,
    message: `cluster at host offset 0x${hex(host)} has more references than ${refcountBits}-bit refcounts can hold`,
    qemuLine: `ERROR: overflow cluster offset=0x${hex(host)}`,
  };
}

export function snapshotsWithDataFile(count: number): CheckFinding {
  return {
    kind: 'snapshot-table',
    severity: 'corruption',
    message: `image with an external data file has ${count} snapshots, which is not allowed`,
    qemuLine: `ERROR ${count} snapshots in image with data file`,
  };
}

export function snapshotL1Unaligned(sn: { id: string; name: string; l1Offset: number }): CheckFinding {
  return {
    kind: 'snapshot-table',
    severity: 'corruption',
    hostOffset: Number.isFinite(sn.l1Offset) ? sn.l1Offset : undefined,
    snapshot: sn.id,
    message: `snapshot ${sn.id} (${sn.name}) has an L1 table offset 0x${hex(sn.l1Offset)} that is not cluster-aligned`,
    qemuLine: `ERROR snapshot ${sn.id} (${sn.name}) l1_offset=0x${hex(sn.l1Offset)}: L1 table is not cluster aligned; snapshot table entry corrupted`,
  };
}

export function snapshotL1TooLarge(sn: { id: string; name: string; l1Size: number }): CheckFinding {
  return {
    kind: 'snapshot-table',
    severity: 'corruption',
    snapshot: sn.id,
    message: `snapshot ${sn.id} (${sn.name}) claims an L1 table of ${sn.l1Size} entries, more than QEMU allows`,
    qemuLine: `ERROR snapshot ${sn.id} (${sn.name}) l1_size=0x${hex(sn.l1Size)}: L1 table is too large; snapshot table entry corrupted`,
  };
}

/** `table` is "" for the active L1 table, "snapshot s " for a snapshot's; `shared` the "(counted n times …)" note. */
export function l1EntryReserved(
  host: number,
  table: string,
  snapshot: string | undefined,
  index: number,
  hi: number,
  lo: number,
  shared: string,
): CheckFinding {
  return {
    kind: 'reserved-bits',
    severity: 'corruption',
    hostOffset: host,
    snapshot,
    message: `${table}L1 entry ${index} has reserved bits set (0x${hex64(hi, lo)})${shared}`,
    qemuLine: `ERROR found L1 entry with reserved bits set: ${hex64(hi, lo)}`,
  };
}

export function l1EntryUnaligned(
  l2Offset: number,
  table: string,
  snapshot: string | undefined,
  index: number,
  guest: number | undefined,
  shared: string,
): CheckFinding {
  return {
    kind: 'unaligned',
    severity: 'corruption',
    hostOffset: l2Offset,
    snapshot,
    virtualOffsets: guest === undefined ? undefined : [guest],
    message: `${table}L1 entry ${index} points to an L2 table at 0x${hex(l2Offset)}, which is not cluster-aligned${shared}`,
    qemuLine: `ERROR l2_offset=${hex(l2Offset)}: Table is not cluster aligned; L1 entry corrupted`,
  };
}

export function compressedWithCopied(p: L2EntryPlace, host: number, offsetHex: string): CheckFinding {
  return {
    kind: 'compressed-copied',
    severity: 'corruption',
    hostOffset: host,
    ...l2Fields(p),
    message: `compressed L2 entry for ${p.where} has the COPIED flag set, which compressed clusters must never have`,
    qemuLine: `ERROR: coffset=0x${offsetHex}: copied flag must never be set for compressed clusters`,
  };
}

export function compressedWithDataFile(p: L2EntryPlace, index: number, hi: number, lo: number): CheckFinding {
  return {
    kind: 'compressed-invalid',
    severity: 'corruption',
    ...l2Fields(p),
    message: `L2 entry for ${p.where} is compressed, which images with an external data file cannot have`,
    qemuLine: `ERROR compressed cluster ${index} with data file, entry=0x${hex64(hi, lo)}`,
  };
}

export function compressedWithBitmap(p: L2EntryPlace, index: number, hi: number, lo: number): CheckFinding {
  return {
    kind: 'compressed-invalid',
    severity: 'corruption',
    ...l2Fields(p),
    message: `compressed L2 entry for ${p.where} has a non-zero subcluster bitmap`,
    qemuLine: `ERROR compressed cluster ${index} with non-zero subcluster allocation bitmap, entry=0x${hex64(hi, lo)}`,
  };
}

export function l2EntryReserved(p: L2EntryPlace, entryHost: number, hi: number, lo: number): CheckFinding {
  return {
    kind: 'reserved-bits',
    severity: 'corruption',
    hostOffset: entryHost,
    ...l2Fields(p),
    message: `L2 entry for ${p.where} has reserved bits set (0x${hex64(hi, lo)})`,
    qemuLine: `ERROR found l2 entry with reserved bits set: ${hex64(hi, lo)}`,
  };
}

export function unallocatedWithBitmap(p: L2EntryPlace, allocBits: number): CheckFinding {
  return {
    kind: 'subcluster-bitmap',
    severity: 'corruption',
    ...l2Fields(p),
    message: `unallocated L2 entry for ${p.where} marks subclusters as allocated (bitmap 0x${hex(allocBits)})`,
    qemuLine: 'ERROR: Unallocated cluster has non-zero subcluster allocation map',
  };
}

export function allocatedAndZero(p: L2EntryPlace, host: number, both: number): CheckFinding {
  return {
    kind: 'subcluster-bitmap',
    severity: 'corruption',
    hostOffset: host,
    ...l2Fields(p),
    message: `L2 entry for ${p.where} marks subclusters both allocated and zero (mask 0x${hex(both)})`,
    qemuLine: `ERROR offset=${hex(host)}: Allocated cluster has corrupted subcluster allocation bitmap`,
  };
}

/** An unaligned data cluster, or an unaligned preallocated zero cluster (which -r all turns into a plain zero one: `repairing`). */
export function l2EntryUnaligned(p: L2EntryPlace, host: number, containsData: boolean, repairing: boolean): CheckFinding {
  return {
    kind: 'unaligned',
    severity: 'corruption',
    hostOffset: host,
    ...l2Fields(p),
    message: `L2 entry for ${p.where} points to host offset 0x${hex(host)}, which is not cluster-aligned`,
    qemuLine: containsData
      ? `ERROR offset=${hex(host)}: Data cluster is not properly aligned; L2 entry corrupted.`
      : `${repairing ? 'Repairing' : 'ERROR'} offset=${hex(host)}: Preallocated cluster is not properly aligned; L2 entry corrupted.`,
  };
}

export function reftableEntryReserved(entryHost: number, index: number): CheckFinding {
  return {
    kind: 'reserved-bits',
    severity: 'corruption',
    hostOffset: entryHost,
    message: `refcount table entry ${index} has reserved bits set`,
    qemuLine: `ERROR refcount table entry ${index} has reserved bits set`,
  };
}

export function refblockUnaligned(offset: number, index: number): CheckFinding {
  return {
    kind: 'unaligned',
    severity: 'corruption',
    hostOffset: offset,
    message: `refcount table entry ${index} points to a refcount block at 0x${hex(offset)}, which is not cluster-aligned`,
    qemuLine: `ERROR refcount block ${index} is not cluster aligned; refcount table entry corrupted`,
  };
}

export function refblockOutsideImage(offset: number, index: number, repairing: boolean): CheckFinding {
  return {
    kind: 'refblock-outside-image',
    severity: 'corruption',
    hostOffset: Number.isFinite(offset) ? offset : undefined,
    message: `refcount block ${index} at 0x${hex(offset)} lies past the end of the file`,
    qemuLine: `${repairing ? 'Repairing' : 'ERROR'} refcount block ${index} is outside image`,
  };
}

export function refblockRefcount(offset: number, index: number, refcount: number): CheckFinding {
  return {
    kind: 'refblock-refcount',
    severity: 'corruption',
    hostOffset: offset,
    message: `refcount block ${index} at 0x${hex(offset)} is referenced ${refcount} times; it must be used only as a refcount block`,
    qemuLine: `ERROR refcount block ${index} refcount=${refcount}`,
  };
}
