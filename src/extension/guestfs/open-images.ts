/**
 * The images whose guest files are being browsed: a short id per image path (the authority of qcow2-guest: URIs,
 * remembered across reloads through a small store), and a bounded cache of opened guest disks. A disk is opened
 * again when its image file's size or mtime has changed since it was opened. No vscode import.
 */
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { GuestDisk } from './guest-disk';

/** Most guest disks kept open at once; the least recently used one is closed beyond that. */
const MAX_OPEN_DISKS = 4;
/** Most image ids remembered in the store (each is a path). */
const MAX_REMEMBERED_IDS = 64;

/** Where the id → path map is kept between sessions (the extension's globalState). */
export interface IdStore {
  get(): Record<string, string> | undefined;
  set(map: Record<string, string>): PromiseLike<void> | void;
}

/** The URI authority of an image: 12 hex digits of the SHA-256 of its path (lowercase, so any URI parser keeps it). */
export function imageId(imagePath: string): string {
  return createHash('sha256').update(imagePath).digest('hex').slice(0, 12);
}

interface Entry {
  disk: Promise<GuestDisk>;
  size: number;
  mtimeMs: number;
}

export class OpenImages {
  private readonly paths = new Map<string, string>();
  private readonly disks = new Map<string, Entry>();
  private lastSave: Promise<void> = Promise.resolve();
  private readonly changeListeners = new Set<(imagePath: string, id: string) => void>();

  constructor(
    private readonly store?: IdStore,
    private readonly allowPath: () => ((p: string) => boolean) | undefined = () => undefined,
  ) {
    for (const [id, path] of Object.entries(store?.get() ?? {})) if (typeof path === 'string' && imageId(path) === id) this.paths.set(id, path);
  }

  /** Records an image and returns its id. */
  register(imagePath: string): string {
    const id = imageId(imagePath);
    if (this.paths.get(id) !== imagePath) {
      this.paths.delete(id);
      this.paths.set(id, imagePath);
      while (this.paths.size > MAX_REMEMBERED_IDS) this.paths.delete(this.paths.keys().next().value!);
      const map = Object.fromEntries(this.paths);
      this.lastSave = this.lastSave.then(() => this.store?.set(map)).catch(() => undefined);
    }
    return id;
  }

  /** Resolves once the ids registered so far are in the store (before a window reload, e.g. a new workspace folder). */
  saved(): Promise<void> {
    return this.lastSave;
  }

  pathOf(id: string): string | undefined {
    return this.paths.get(id);
  }

  /** The image's guest disk, opened now or reused when the file has not changed since. */
  async disk(imagePath: string): Promise<GuestDisk> {
    const st = await stat(imagePath);
    const e = this.disks.get(imagePath);
    if (e && e.size === st.size && e.mtimeMs === st.mtimeMs) {
      // Most recently used last.
      this.disks.delete(imagePath);
      this.disks.set(imagePath, e);
      return e.disk;
    }
    if (e) this.drop(imagePath);
    const disk = GuestDisk.open(imagePath, this.allowPath());
    this.disks.set(imagePath, { disk, size: st.size, mtimeMs: st.mtimeMs });
    disk.catch(() => this.disks.get(imagePath)?.disk === disk && this.disks.delete(imagePath));
    while (this.disks.size > MAX_OPEN_DISKS) this.drop(this.disks.keys().next().value!);
    return disk;
  }

  /** Calls `f` with each image said to have changed (changed()) whose guest files were browsed. */
  onDidChange(f: (imagePath: string, id: string) => void): { dispose(): void } {
    this.changeListeners.add(f);
    return { dispose: () => this.changeListeners.delete(f) };
  }

  /**
   * The image changed (a hex edit saved, a repair, a write by another program): its disk and the file systems'
   * caches are dropped, so the next read opens it afresh, and listeners (the FileSystemProvider) hear of it.
   */
  changed(imagePath: string): void {
    this.drop(imagePath);
    const id = imageId(imagePath);
    if (this.paths.get(id) !== imagePath) return;
    for (const f of this.changeListeners) f(imagePath, id);
  }

  /** Closes the image's disk (after a save by us, or when the cache is full). */
  drop(imagePath: string): void {
    const e = this.disks.get(imagePath);
    if (!e) return;
    this.disks.delete(imagePath);
    void e.disk.then((d) => d.close()).catch(() => undefined);
  }

  dispose(): void {
    for (const p of [...this.disks.keys()]) this.drop(p);
  }
}
