/**
 * Change events for guest files: when the image behind qcow2-guest: URIs changes (a hex edit saved, a repair, a
 * revert that reloads, another program writing it), every watched or recently read guest URI of that image gets a
 * FileChangeType.Changed, and its disk's caches are dropped (OpenImages.changed). The image file itself is watched
 * (node fs.watch) while any of its guest URIs is, and the editor's own writes arrive through OpenImages.changed.
 */
import { statSync, watch, type FSWatcher } from 'node:fs';
import * as vscode from 'vscode';
import { parseGuestUri } from './guest-uri';
import type { OpenImages } from './open-images';

/** Guest URIs remembered as read (open in an editor, most likely) beyond the watched ones. */
const MAX_READ_URIS = 256;
/** Writes come in bursts (a save writes tables, then data, then the header): one event per burst. */
const SETTLE_MS = 100;

export class GuestChanges implements vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<vscode.FileChangeEvent[]>();
  readonly onDidChangeFile = this.emitter.event;
  /** Watched URIs (watch() calls), counted, by URI string. */
  private readonly watched = new Map<string, { uri: vscode.Uri; count: number }>();
  /** URIs read by readFile, most recent last. */
  private readonly read = new Map<string, vscode.Uri>();
  /** fs.watch of image files while a guest URI of theirs is watched, counted. */
  private readonly imageWatchers = new Map<string, { watcher?: FSWatcher; count: number }>();
  /** Changes seen per image id: added to reported mtimes, so an editor's cached etag (mtime + size) goes stale. */
  private readonly generations = new Map<string, number>();
  private readonly timers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly subscription: { dispose(): void };

  constructor(private readonly images: OpenImages) {
    this.subscription = images.onDidChange((path, id) => this.schedule(path, id));
  }

  /** How many changes of this image were seen (0 at first). */
  generation(imageId: string): number {
    return this.generations.get(imageId) ?? 0;
  }

  watch(uri: vscode.Uri): vscode.Disposable {
    const key = uri.toString();
    const w = this.watched.get(key) ?? { uri, count: 0 };
    w.count++;
    this.watched.set(key, w);
    const image = this.images.pathOf(parseGuestUri(uri).imageId);
    const unwatchImage = image ? this.watchImage(image) : () => undefined;
    let disposed = false;
    return new vscode.Disposable(() => {
      if (disposed) return;
      disposed = true;
      if (--w.count <= 0) this.watched.delete(key);
      unwatchImage();
    });
  }

  /** readFile served this URI: it hears of changes even if nobody watches it. */
  noteRead(uri: vscode.Uri): void {
    const key = uri.toString();
    this.read.delete(key);
    this.read.set(key, uri);
    while (this.read.size > MAX_READ_URIS) this.read.delete(this.read.keys().next().value!);
  }

  private watchImage(imagePath: string): () => void {
    let e = this.imageWatchers.get(imagePath);
    if (!e) {
      e = { count: 0 };
      try {
        // Only a new size or mtime counts: reading the image may touch its atime, which must not look like a change
        // (each event makes VS Code read the guest file again).
        let last = fileStamp(imagePath);
        e.watcher = watch(imagePath, { persistent: false }, () => {
          const now = fileStamp(imagePath);
          if (now === last) return;
          last = now;
          this.images.changed(imagePath);
        });
        e.watcher.on('error', () => undefined);
      } catch {
        // Not watchable (gone, or a file system without notifications): the editor's own writes still arrive.
      }
      this.imageWatchers.set(imagePath, e);
    }
    const entry = e;
    entry.count++;
    return () => {
      if (--entry.count > 0) return;
      entry.watcher?.close();
      if (this.imageWatchers.get(imagePath) === entry) this.imageWatchers.delete(imagePath);
    };
  }

  private schedule(imagePath: string, id: string): void {
    clearTimeout(this.timers.get(id));
    this.timers.set(
      id,
      setTimeout(() => {
        this.timers.delete(id);
        // Settled: drop what was opened during the burst too.
        this.images.drop(imagePath);
        this.generations.set(id, this.generation(id) + 1);
        const uris = new Map<string, vscode.Uri>();
        for (const [key, w] of this.watched) if (w.uri.authority.toLowerCase() === id) uris.set(key, w.uri);
        for (const [key, uri] of this.read) if (uri.authority.toLowerCase() === id) uris.set(key, uri);
        if (uris.size) this.emitter.fire([...uris.values()].map((uri) => ({ type: vscode.FileChangeType.Changed, uri })));
      }, SETTLE_MS),
    );
  }

  dispose(): void {
    this.subscription.dispose();
    for (const t of this.timers.values()) clearTimeout(t);
    for (const e of this.imageWatchers.values()) e.watcher?.close();
    this.imageWatchers.clear();
    this.emitter.dispose();
  }
}

function fileStamp(path: string): string {
  try {
    const st = statSync(path);
    return `${st.size}:${st.mtimeMs}`;
  } catch {
    return 'gone';
  }
}
