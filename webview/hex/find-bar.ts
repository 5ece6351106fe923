/**
 * The hex view's Find widget, in VS Code's style: a bar at the top right of the bytes with the pattern, its mode
 * (hex / text / UTF-16 / regex), match case, scope, previous/next, "Find all" and close; progress with a cancel
 * button while the host scans; a results list under it. Keys: Ctrl+F opens it, Enter / Shift+Enter and
 * F3 / Shift+F3 go to the next / previous hit, Alt+C toggles match case, Escape closes it.
 * The search runs on the extension host (hex-find.ts); this file only asks and shows.
 */
import type { FindAction, FindHit, FindMode, GuestVolumeInfo, HexHost, HostMessage } from '../../src/shared/protocol';
import type { PartitionTable } from '../../src/shared/partitions';
import { formatBytes } from '../../src/shared/format';
import { t } from '../l10n';
import { FindResults, queryKey, scopeRange, type FindQuery } from './find-model';
import { FindResultsList, allSummary, hitRow } from './find-results';
import { el, iconButton, ProgressRow, select, type Control } from './find-controls';
import { installFindStyles } from './find-styles';
import { FindScopePicker } from './find-scope';
import { bindFindKeys } from './find-keys';

/** What the Find widget needs from the hex view. */
export interface FindTarget {
  /** The hex view's root: Ctrl+F and F3 are caught there. */
  readonly root: HTMLElement;
  /** Where the bar sits (its top right corner). */
  readonly body: HTMLElement;
  readonly virtualSize: number;
  cursor(): number;
  sectorSize(): number;
  partitions(): PartitionTable | undefined;
  /** The guest disk's volumes (partitions, LVs), for the guest-file scope. */
  volumes(): Promise<GuestVolumeInfo[]>;
  /** Selects [offset, offset + length) and scrolls it into view. */
  select(offset: number, length: number): void;
  redraw(): void;
  focusGrid(): void;
}

export class FindBar {
  readonly el = el('div', 'hx-find');
  readonly results = new FindResults();
  private readonly input = document.createElement('vscode-textfield') as unknown as Control;
  private readonly matchCase = iconButton('case-sensitive', t('Match case (Alt+C)'), () => this.queryChanged(), true);
  private readonly mode = select(t('Pattern kind'), [
    ['text', t('Text')],
    ['hex', t('Hex bytes')],
    ['utf16', t('UTF-16LE text')],
    ['regex', t('Regular expression')],
  ]);
  private readonly scope: FindScopePicker;
  private readonly status = el('span', 'hx-find-status');
  private progress!: ProgressRow;
  private readonly list: FindResultsList;
  private searchId = 0;
  /** The search whose messages count (older ones are dropped); `then`: a guest file's next/previous after its list. */
  private active?: { id: number; action: FindAction; found: boolean; then?: FindAction };
  private lastKey = '';
  /** The cursor when the query was first run: "From the cursor" searches from there, also after moving to hits. */
  private anchor = 0;
  private readonly unsubscribe: () => void;
  private disposed = false;
  /** The "Find all" hits changed (the map marks them); empty when they are dropped. */
  onHits?: (offsets: readonly number[]) => void;
  private published = false;
  /** Called once when the bar goes (the owner closes what it made for it). */
  onDispose?: () => void;
  /** A cancelled search whose answer the host has not sent yet: when it comes, the round trip is timed. */
  private cancelling?: { id: number; at: number };

  constructor(
    private readonly target: FindTarget,
    private readonly host: HexHost,
  ) {
    installFindStyles(document);
    this.scope = new FindScopePicker(
      () => target.volumes(),
      () => this.queryChanged(),
      (shift) => this.run(shift ? 'previous' : 'next'),
    );
    this.list = new FindResultsList(
      (hit) => this.show(hit, true),
      () => this.input.focus(),
    );
    this.build();
    this.unsubscribe = host.onMessage((m) => this.onHostMessage(m));
    bindFindKeys(target.root, this.el, this.input, {
      isOpen: () => this.isOpen,
      hasPattern: () => !!this.input.value,
      open: () => this.open(),
      close: () => this.close(),
      run: (action) => this.run(action),
      toggleCase: () => {
        this.matchCase.checked = !this.matchCase.checked;
        this.queryChanged();
      },
    });
    target.body.append(this.el);
  }

  get isOpen(): boolean {
    return !this.el.hidden;
  }

  /** Per-byte marks of a row for the hex view (nothing while the bar is closed). */
  marks(start: number, n: number): Uint8Array | undefined {
    return this.isOpen ? this.results.marks(start, n) : undefined;
  }

  private build(): void {
    const bar = this.el;
    bar.hidden = true;
    bar.setAttribute('role', 'search');
    bar.setAttribute('aria-label', t('Find in guest disk'));
    bar.dataset.state = 'idle';
    this.input.setAttribute('placeholder', t('Find'));
    this.input.setAttribute('aria-label', t('Find (Enter: next, Shift+Enter: previous)'));
    this.input.classList.add('hx-find-input');
    this.input.addEventListener('input', () => this.queryChanged());
    this.mode.addEventListener('change', () => this.queryChanged());
    this.status.setAttribute('role', 'status');
    this.status.setAttribute('aria-live', 'polite');
    const prev = iconButton('arrow-up', t('Previous match (Shift+Enter, Shift+F3)'), () => this.run('previous'));
    const next = iconButton('arrow-down', t('Next match (Enter, F3)'), () => this.run('next'));
    const all = iconButton('list-flat', t('Find all'), () => this.run('all'));
    prev.classList.add('hx-find-prev');
    next.classList.add('hx-find-next');
    all.classList.add('hx-find-all');
    const close = iconButton('close', t('Close (Escape)'), () => this.close());
    close.classList.add('hx-find-close');
    this.matchCase.classList.add('hx-find-case');
    const cancel = iconButton('debug-stop', t('Cancel search'), () => this.cancel());
    cancel.classList.add('hx-find-cancel');
    this.progress = new ProgressRow(t('Searching'), cancel);
    const row1 = el('div', 'hx-find-row');
    row1.append(this.input, this.matchCase, prev, next, all, close);
    const row2 = el('div', 'hx-find-row');
    row2.append(this.mode, this.scope.list, this.status);
    bar.append(row1, row2, this.scope.file.el, this.progress.el, this.list.el);
  }

  /** The partition list of the disk changed: offer each partition as a scope. */
  setPartitions(table: PartitionTable): void {
    this.scope.setPartitions(table);
  }

  open(): void {
    this.scope.load();
    this.el.hidden = false;
    this.input.focus();
    // Like VS Code: the pattern is selected, so typing replaces it (the element has no select() of its own).
    this.input.shadowRoot?.querySelector('input')?.select();
    this.target.redraw();
  }

  close(): void {
    this.cancel();
    this.el.hidden = true;
    this.target.redraw();
    this.target.focusGrid();
  }

  private query(): FindQuery {
    return { mode: this.mode.value as FindMode, pattern: this.input.value, matchCase: this.matchCase.checked, scope: this.scope.scope() };
  }

  /** The pattern, mode or scope changed: hits found for the old query no longer count. */
  private queryChanged(): void {
    if (queryKey(this.query()) !== this.lastKey) this.reset();
  }

  /** The bytes changed (an edit, undo, a reload): hits found before may be gone. */
  private diskChanged(): void {
    this.scope.diskChanged();
    if (this.isOpen) this.scope.load();
    if (this.lastKey || this.active) this.reset();
  }

  /** Forgets the hits and stops the search (its last messages are then ignored). */
  private reset(): void {
    this.cancel();
    this.active = undefined;
    this.lastKey = '';
    this.results.clear();
    this.list.clear();
    this.setState('idle', '');
    this.target.redraw();
    this.publishHits();
  }

  private publishHits(): void {
    if (!this.published && this.results.all.length === 0) return;
    this.published = this.results.all.length > 0;
    this.onHits?.(this.results.all.map((h) => h.offset));
  }

  run(action: FindAction): void {
    const q = this.query();
    if (!q.pattern) return this.setState('error', t('Type something to find'));
    const key = queryKey(q);
    if (key !== this.lastKey) {
      this.results.clear();
      this.list.clear();
      this.anchor = this.target.cursor();
      this.lastKey = key;
    }
    const inFile = q.scope.kind === 'file' ? q.scope : undefined;
    if (inFile && 'error' in inFile) return this.setState('error', inFile.error);
    const range = inFile ? { start: 0, end: 0 } : scopeRange(q.scope, this.target.virtualSize, this.target.partitions(), this.anchor);
    if ('error' in range) return this.setState('error', t('Cannot search there: {0}', range.error));
    const cursor = this.target.cursor();
    // A guest file's hits come as one list (the host finds all); next/previous then step through it.
    const listed = inFile !== undefined && this.lastKey === key && (this.results.complete || this.results.limitReached);
    if (action !== 'all') {
      const step = this.results.step(cursor, action === 'next', listed);
      if (step) {
        this.show(step.hit, false);
        this.setState('done', this.countText(step.index) + (step.wrapped ? ' · ' + t('wrapped round') : ''));
        return;
      }
    } else {
      this.results.clear();
      this.list.clear();
      this.list.show(t('Searching…'));
    }
    if (inFile && action !== 'all') {
      this.results.clear();
      this.list.clear();
    }
    const origin = action === 'all' || inFile ? range.start : this.results.origin(cursor, action === 'next', range.start, range.end);
    const id = ++this.searchId;
    this.active = { id, action: inFile ? 'all' : action, found: false, then: inFile && action !== 'all' ? action : undefined };
    const common = { type: 'findStart', searchId: id, mode: q.mode, pattern: q.pattern, matchCase: q.matchCase, start: range.start, end: range.end } as const;
    if (inFile) this.host.post({ ...common, origin: 0, action: 'all', file: { volume: inFile.volume, path: inFile.path } });
    else this.host.post({ ...common, origin, action });
    this.setState('searching', t('Searching…'));
    this.progress.set(0, 1, '');
  }

  /**
   * Stops the search. The view stops at once (not after the host's answer, which a busy extension host or the
   * webview round trip can delay): the search's later messages are dropped, and the host stops at its next read.
   */
  cancel(): void {
    const a = this.active;
    if (!a) return;
    const at = performance.now();
    this.host.post({ type: 'findCancel', searchId: a.id });
    this.cancelling = { id: a.id, at };
    this.active = undefined;
    delete this.el.dataset.cancelMs;
    const hadFocus = this.progress.el.contains(document.activeElement);
    this.finish(a, { type: 'findDone', searchId: a.id, status: 'cancelled', elapsedMs: 0 });
    if (hadFocus) this.input.focus(); // the cancel button goes with the progress row: keep the keyboard in the bar
    // The UI test logs these: from the cancel to the frame showing it, and (below) to the host's answer.
    requestAnimationFrame(() => (this.el.dataset.cancelViewMs = (performance.now() - at).toFixed(1)));
  }

  private show(hit: FindHit, focusGrid: boolean): void {
    this.results.select(hit);
    this.target.select(hit.offset, hit.length);
    this.list.setCurrent(this.results.indexOfCurrent());
    if (focusGrid) this.target.focusGrid();
  }

  private countText(index: number): string {
    return index >= 0 ? t('{0} of {1}', index + 1, this.results.all.length) : '';
  }

  private onHostMessage(m: HostMessage): void {
    if (m.type === 'hexEdited' || m.type === 'refresh') return this.diskChanged();
    if (m.type === 'findDone' && m.searchId === this.cancelling?.id) {
      this.el.dataset.cancelMs = (performance.now() - this.cancelling.at).toFixed(1);
      this.cancelling = undefined;
    }
    if (!('searchId' in m) || !this.active || m.searchId !== this.active.id) return;
    const a = this.active;
    switch (m.type) {
      case 'findProgress':
        this.progress.set(m.done, m.total, t('{0} of {1}', formatBytes(m.done), formatBytes(m.total)));
        break;
      case 'findHits':
        if (m.near) this.results.addNear(m.hits);
        else if (a.action === 'all') {
          const before = this.results.all.length;
          this.results.addAll(m.hits);
          this.list.append(this.results.all.slice(before), (h) => hitRow(h, this.target.partitions(), this.target.sectorSize()));
          this.setState('searching', t('{0} found so far…', this.results.all.length));
        } else {
          a.found = true;
          this.show(m.hits[0], false);
        }
        this.target.redraw();
        break;
      case 'findDone':
        this.active = undefined;
        this.el.dataset.elapsedMs = String(m.elapsedMs); // the host's search time, for the UI test's log
        this.finish(a, m);
        break;
    }
  }

  private finish(a: { action: FindAction; found: boolean; then?: FindAction }, m: Extract<HostMessage, { type: 'findDone' }>): void {
    if (m.status === 'error') return this.setState('error', m.message ?? t('Search failed'));
    if (a.action === 'all') {
      const n = this.results.all.length;
      this.results.complete = m.status === 'done';
      const text = allSummary(m.status, n) + (m.offDisk ? ' · ' + t('{0} more in holes or inline data, not on the disk', m.offDisk) : '');
      this.list.show(text);
      this.publishHits();
      this.setState(m.status === 'cancelled' ? 'cancelled' : n === 0 ? 'none' : m.status, text);
      const step = a.then && m.status !== 'cancelled' ? this.results.step(this.target.cursor(), a.then === 'next', true) : undefined;
      if (step) {
        this.show(step.hit, false);
        this.setState(m.status, this.countText(step.index) + (step.wrapped ? ' · ' + t('wrapped round') : ''));
      }
      return;
    }
    if (m.status === 'cancelled') return this.setState('cancelled', t('Search cancelled'));
    if (!a.found) return this.setState('none', t('No results'));
    const c = this.results.current!;
    this.setState('done', t('At {0}', `0x${c.offset.toString(16)}`) + (m.wrapped ? ' · ' + t('wrapped round') : ''));
  }

  private setState(state: string, text: string): void {
    this.el.dataset.state = state;
    this.status.textContent = text;
    this.status.classList.toggle('hx-err', state === 'error');
    this.progress.el.hidden = state !== 'searching';
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.cancel();
    this.unsubscribe();
    this.onDispose?.();
    this.el.remove();
  }
}
