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
