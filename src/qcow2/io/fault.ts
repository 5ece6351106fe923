/**
 * Fault-injecting files for crash-safety tests, both in memory:
 * - PowerLossIo: a disk with a volatile write cache. Writes land in the cache; fsync makes them durable.
 *   At the N-th write the power fails: that write and every later operation fail, and `crashImage()` gives the
 *   bytes the disk would hold afterwards (the durable bytes plus, optionally, a seeded random subset of the
 *   unsynced writes, since a real disk may have written any of them, in any order).
 * - FailingIo: a normal file whose N-th write (or N-th fsync) fails with EIO, once or from then on.
 */
import type { Qcow2IoOps } from './ops';
import { MemIo } from './memory';
import { Qcow2Error } from '../errors';

/** A small seeded PRNG (mulberry32): uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type PendingOp = { kind: 'write'; offset: number; data: Uint8Array } | { kind: 'truncate'; size: number };

export interface PowerLossOptions {
  /** The power fails when this write (1-based) is issued; that write does not complete. Infinity: never. */
  failAtWrite: number;
  /** Chance that each unsynced write survives the power loss (default 0: all are lost). */
  keepProbability?: number;
  seed?: number;
  /**
   * Torn writes: a surviving unsynced write lands only in part, each 512-byte sector kept or not (disks promise
   * sector atomicity at best). The write that met the power loss may also land in part.
   */
  tornWrites?: boolean;
  /** A lying disk: fsync reports success but makes nothing durable (to prove the crash tests can fail). */
  lyingSync?: boolean;
  /** Files on one machine share the power: writes are counted across them and the loss hits them all. */
  power?: PowerSupply;
}

/** The power shared by several PowerLossIo files (an image and its external data file). */
export class PowerSupply {
  writes = 0;
  syncs = 0;
  lost = false;
}

export class PowerLossIo implements Qcow2IoOps {
  readonly readOnly = false;
  /** Writes that completed before the last fsync that completed (on any file of the supply). */
  writesAtLastSync = 0;
  readonly power: PowerSupply;
  private readonly durable: MemIo;
  private readonly current: MemIo;
  private pending: PendingOp[] = [];

  constructor(
    initial: Uint8Array,
    readonly path: string,
    private readonly opts: PowerLossOptions,
  ) {
    this.durable = new MemIo(initial, path);
    this.current = new MemIo(initial, path);
    this.power = opts.power ?? new PowerSupply();
  }

  /** Writes issued so far (across the supply), including the one that met the power loss. */
  get writes(): number {
    return this.power.writes;
  }

  get syncs(): number {
    return this.power.syncs;
  }

  get lost(): boolean {
    return this.power.lost;
  }

  private alive(): void {
    if (this.lost) throw new Qcow2Error('io', 'EIO: power lost (injected)', this.path);
  }

  async readAt(buf: Uint8Array, offset: number): Promise<number> {
    this.alive();
    return this.current.readAt(buf, offset);
  }

  async writeAt(buf: Uint8Array, offset: number): Promise<void> {
    this.alive();
    this.power.writes++;
    if (this.power.writes >= this.opts.failAtWrite) {
      this.power.lost = true;
      // With torn writes, the interrupted write may have reached some sectors.
      if (this.opts.tornWrites) this.pending.push({ kind: 'write', offset, data: buf.slice() });
      this.alive();
    }
    await this.current.writeAt(buf, offset);
    this.pending.push({ kind: 'write', offset, data: buf.slice() });
  }

  async truncate(size: number): Promise<void> {
    this.alive();
    await this.current.truncate(size);
    this.pending.push({ kind: 'truncate', size });
  }

  async fsync(): Promise<void> {
    this.alive();
    if (!this.opts.lyingSync) {
      for (const op of this.pending) await apply(this.durable, op);
      this.pending = [];
    }
    this.power.syncs++;
    this.writesAtLastSync = this.power.writes;
  }

  async size(): Promise<number> {
    this.alive();
    return this.current.size();
  }

  async close(): Promise<void> {}

  /** What the disk holds after a power loss now (or at the failure): durable bytes plus surviving unsynced writes. */
  async crashImage(): Promise<Uint8Array> {
    const disk = new MemIo(this.durable.bytes(), this.path);
    const keep = this.opts.keepProbability ?? 0;
    const random = seededRandom(this.opts.seed ?? 1);
    for (const op of this.pending) {
      if (keep <= 0 || random() >= keep) continue;
      if (op.kind === 'write' && this.opts.tornWrites) {
        // Sector by sector, aligned to the file's 512-byte sectors.
        for (let s = op.offset - (op.offset % 512); s < op.offset + op.data.length; s += 512) {
          if (random() < 0.5) continue;
          const a = Math.max(s, op.offset);
          const b = Math.min(s + 512, op.offset + op.data.length);
          await disk.writeAt(op.data.subarray(a - op.offset, b - op.offset), a);
        }
      } else await apply(disk, op);
    }
    return disk.bytes();
  }

  /** Everything written so far, as if the power had stayed on. */
  liveImage(): Uint8Array {
    return this.current.bytes();
  }
}

async function apply(disk: MemIo, op: PendingOp): Promise<void> {
  if (op.kind === 'write') await disk.writeAt(op.data, op.offset);
  else await disk.truncate(op.size);
}

export interface FailingIoOptions {
  /** 1-based index of the write that fails (Infinity: none). */
  failAtWrite?: number;
  /** 1-based index of the fsync that fails (Infinity: none). */
  failAtSync?: number;
  /** 'once': only that operation fails; 'sticky': it and every later write and fsync fail (a dead disk). */
  mode?: 'once' | 'sticky';
  /** Count writes and fsyncs across several files (an image and its data file on one failing disk). */
  counters?: FailCounters;
}

export class FailCounters {
  writes = 0;
  syncs = 0;
  failed = false;
}

/** An in-memory file that fails a chosen write or fsync with EIO. Failed writes change nothing. */
export class FailingIo extends MemIo {
  readonly counters: FailCounters;

  constructor(
    initial: Uint8Array,
    path: string,
    private readonly opts: FailingIoOptions,
  ) {
    super(initial, path);
    this.counters = opts.counters ?? new FailCounters();
  }

  get writes(): number {
    return this.counters.writes;
  }

  get syncs(): number {
    return this.counters.syncs;
  }

  get failed(): boolean {
    return this.counters.failed;
  }

  private eio(what: string): Qcow2Error {
    this.counters.failed = true;
    return new Qcow2Error('io', `EIO: ${what} failed (injected)`, this.path);
  }

  override async writeAt(buf: Uint8Array, offset: number): Promise<void> {
    const c = this.counters;
    c.writes++;
    if (c.writes === (this.opts.failAtWrite ?? Infinity) || (c.failed && this.opts.mode === 'sticky')) throw this.eio('write');
    return super.writeAt(buf, offset);
  }

  override async fsync(): Promise<void> {
    const c = this.counters;
    c.syncs++;
    if (c.syncs === (this.opts.failAtSync ?? Infinity) || (c.failed && this.opts.mode === 'sticky')) throw this.eio('fsync');
  }
}
