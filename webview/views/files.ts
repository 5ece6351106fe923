/**
 * The Files tab: the guest's file systems as a lazy tree (one branch per partition, LV or whole-disk file system;
 * a directory is listed by the host when first expanded), each row with its size and modified time, a name filter,
 * and actions on the selected file: Open (read-only, in an ordinary editor), Show in Hex (its first data sector),
 * Show Extents on the Map (map-overlay.ts), Copy Path and Save a Copy. Actions are toolbar buttons, a context menu (right-click, Shift+F10, the Menu key),
 * Enter or a double-click (Open). Names from the guest are set as text only.
 */
import '@vscode-elements/elements/dist/vscode-tree/index.js';
import '@vscode-elements/elements/dist/vscode-tree-item/index.js';
import '@vscode-elements/elements/dist/vscode-textfield/index.js';
import '@vscode-elements/elements/dist/vscode-context-menu/index.js';
import type { GuestEntry, GuestFileAction, GuestVolumeInfo, HostMessage } from '../../src/shared/protocol';
import { formatBytes } from '../../src/shared/format';
import { h, icon, setChildren } from '../dom';
import { post, request } from '../host';
import { t } from '../l10n';
import type { View } from './view';

type TreeItem = HTMLElement & { open: boolean; branch: boolean; selected: boolean };
type ContextMenu = HTMLElement & { data: { label: string; value: string; keybinding?: string }[]; show: boolean };

const ICONS: Record<GuestEntry['type'], string> = { file: 'file', dir: 'folder', symlink: 'file-symlink-file', other: 'file-binary' };

export class FilesView implements View {
  readonly id = 'files' as const;
  readonly el = h('section', { class: 'view files', 'aria-label': 'Files' });
  private readonly tree = h('vscode-tree', { 'aria-label': t('Guest files') });
  private readonly filter = h('vscode-textfield', { placeholder: t('Filter names'), 'aria-label': t('Filter names') }) as HTMLElement & { value: string };
  private readonly menu = h('vscode-context-menu', { class: 'files-menu' }) as ContextMenu;
  private readonly note = h('p', { class: 'muted small', role: 'status' });
  private readonly buttons = new Map<GuestFileAction, HTMLElement & { disabled: boolean }>();
  /** Bumped when the image changes: answers to requests made before are dropped. */
  private generation = 0;
  private requested = false;
  private volumesListed = false;
  private selected?: TreeItem;
  /** Called when a directory's (or, for null, the volume list's) entries are in the tree (reveal() waits on them). */
  private readonly loadWaiters = new Map<TreeItem | null, Array<() => void>>();

  constructor() {
    const actions: [GuestFileAction, string, string][] = [
      ['open', 'go-to-file', t('Open')],
      ['hex', 'file-binary', t('Show in Hex')],
      ['extents', 'symbol-array', t('Show Extents on the Map')],
      ['copyPath', 'copy', t('Copy Path')],
      ['saveCopy', 'save-as', t('Save a Copy…')],
    ];
    const bar = h('div', { class: 'toolbar files-toolbar' }, this.filter);
    for (const [action, codicon, label] of actions) {
      const b = h(
        'vscode-button',
        { secondary: true, 'data-action': action, title: label, onclick: () => this.run(action) },
        icon(codicon),
        ' ',
        label,
      ) as HTMLElement & {
        disabled: boolean;
      };
      b.disabled = true;
      this.buttons.set(action, b);
      bar.append(b);
    }
    setChildren(this.el, bar, this.note, this.tree, this.menu);
    this.filter.addEventListener('input', () => this.applyFilter());
    // vscode-tree has no "expanded" event; its items reflect `open` as an attribute, so watch that. (Items keep their
    // own data-path, their index path in the tree: the guest path is data-guest-path.)
    new MutationObserver((records) => {
      for (const r of records) {
        const item = r.target as TreeItem;
        if (item.open && item.dataset.state === 'unloaded') void this.load(item);
      }
    }).observe(this.tree, { subtree: true, attributes: true, attributeFilter: ['open'] });
    this.tree.addEventListener('vsc-tree-select', (e: Event) => {
      // 2.5 sends the selected items as the detail itself (its typings say { selectedItems }): take either.
      const d = (e as CustomEvent<TreeItem[] | { selectedItems?: TreeItem[] }>).detail;
      this.select((Array.isArray(d) ? d : (d?.selectedItems ?? []))[0]);
    });
    this.tree.addEventListener('dblclick', (e) => {
      const item = (e.target as HTMLElement).closest('vscode-tree-item') as TreeItem | null;
      if (item?.dataset.type === 'file' || item?.dataset.type === 'symlink') this.run('open');
    });
    this.tree.addEventListener('keydown', (e) => {
      if (e.key === 'Enter' && this.isFile(this.selected)) this.run('open');
      else if (e.key === 'ContextMenu' || (e.key === 'F10' && e.shiftKey)) {
        e.preventDefault();
        const r = this.selected?.getBoundingClientRect();
        this.showMenu(r ? r.left + 24 : 0, r ? r.bottom : 0);
      }
    });
    this.tree.addEventListener('contextmenu', (e) => {
      const item = (e.target as HTMLElement).closest('vscode-tree-item') as TreeItem | null;
      if (!item?.dataset.guestPath) return;
      e.preventDefault();
      item.selected = true;
      this.select(item);
      this.showMenu(e.clientX, e.clientY);
    });
    this.menu.addEventListener('vsc-context-menu-select', (e: Event) => {
      this.run((e as CustomEvent<{ value: string }>).detail.value as GuestFileAction);
      this.tree.focus();
    });
  }

  shown(): void {
    if (this.requested) return;
    this.requested = true;
    this.volumesListed = false;
    setChildren(this.tree);
    this.note.textContent = t('Reading the partition table…');
    void this.listVolumes();
  }

  private async listVolumes(): Promise<void> {
    const gen = this.generation;
    try {
      const reply = await request((requestId) => ({ type: 'fsVolumes', requestId }), 'fsVolumes');
      if (gen !== this.generation) return;
      this.showVolumes(reply.volumes, reply.warnings);
      this.volumesListed = true;
      this.loaded(null);
    } catch (err) {
      if (gen !== this.generation) return;
      this.note.textContent = (err as Error).message;
    }
    this.applyFilter();
  }

  handle(msg: HostMessage): void {
    if (msg.type === 'refresh') {
      // The image changed (save, revert): read everything again when next shown, or now if visible.
      this.requested = false;
      this.generation++;
      this.select(undefined);
      if (this.el.offsetParent !== null) this.shown();
      return;
    }
  }

  private showVolumes(volumes: GuestVolumeInfo[], warnings: string[]): void {
    const readable = volumes.filter((v) => v.readable);
    this.note.textContent = [readable.length ? '' : t('No readable file system found (ext2/3/4, FAT, NTFS).'), ...warnings].filter(Boolean).join(' ');
    setChildren(
      this.tree,
      volumes.map((v) => {
        const label = `${v.label} · ${v.type} · ${formatBytes(v.size)}`;
        if (!v.readable) return this.messageItem('circle-slash', `${label}${v.problem ? ` — ${v.problem}` : ''}`);
        const item = this.item(label, 'dir', v.key, '/');
        item.setAttribute('data-volume-root', '');
        return item;
      }),
    );
    // One file system: show its top level at once.
    if (readable.length === 1) (this.tree.querySelector('[data-volume-root]') as TreeItem | null)?.setAttribute('open', '');
  }

  private entryItem(volume: string, dir: string, e: GuestEntry): TreeItem {
    const path = dir === '/' ? `/${e.name}` : `${dir}/${e.name}`;
    const item = this.item(e.name, e.type, volume, path);
    const parts = [e.size !== undefined && e.type !== 'dir' ? formatBytes(e.size) : '', e.mtime !== undefined ? formatTime(e.mtime) : ''].filter(Boolean);
    if (parts.length) item.append(h('span', { slot: 'description' }, parts.join('  ')));
    return item;
  }

  private item(label: string, type: GuestEntry['type'], volume: string, path: string): TreeItem {
    const branch = type === 'dir';
    const item = h('vscode-tree-item', { 'data-volume': volume, 'data-guest-path': path, 'data-type': type, 'data-name': label }) as TreeItem;
    item.branch = branch;
    item.append(label);
    if (branch) {
      item.dataset.state = 'unloaded';
      item.append(
        h('span', { slot: 'icon-branch', class: 'codicon codicon-folder' }),
        h('span', { slot: 'icon-branch-opened', class: 'codicon codicon-folder-opened' }),
      );
      // A placeholder child, so the item shows as expandable before it is listed.
      item.append(Object.assign(this.messageItem('loading~spin', t('Loading…')), { slot: 'children' }));
    } else item.append(h('span', { slot: 'icon-leaf', class: `codicon codicon-${ICONS[type]}` }));
    return item;
  }

  private messageItem(codicon: string, text: string): TreeItem {
    const item = h('vscode-tree-item', { class: 'files-message' }, text) as TreeItem;
    item.append(h('span', { slot: 'icon-leaf', class: `codicon codicon-${codicon}` }));
    return item;
  }

  private async load(item: TreeItem): Promise<void> {
    item.dataset.state = 'loading';
    const gen = this.generation;
    const volume = item.dataset.volume!;
    const path = item.dataset.guestPath!;
    try {
      const reply = await request((requestId) => ({ type: 'fsList', requestId, volume, path }), 'fsList');
      if (gen !== this.generation) return;
      const rows = reply.entries.map((e) => this.entryItem(volume, path, e));
      if (reply.truncated) rows.push(this.messageItem('info', t('… and {0} more entries not shown', reply.truncated)));
      if (rows.length === 0) rows.push(this.messageItem('info', t('(empty)')));
      this.fill(item, rows);
    } catch (err) {
      if (gen !== this.generation) return;
      this.fill(item, [this.messageItem('error', (err as Error).message)]);
    }
    this.applyFilter();
  }

  /** Replaces an item's child items (its label and icon slots stay). */
  private fill(item: TreeItem, children: TreeItem[]): void {
    for (const c of [...item.children]) if (c.tagName === 'VSCODE-TREE-ITEM') c.remove();
    for (const c of children) c.slot = 'children';
    item.append(...children);
    item.dataset.state = 'loaded';
    this.loaded(item);
  }

  private loaded(item: TreeItem | null): void {
    const waiters = this.loadWaiters.get(item) ?? [];
    this.loadWaiters.delete(item);
    for (const f of waiters) f();
  }

  /** Resolves once the item's entries (null: the volumes) are listed; at once when they already are. */
  private whenLoaded(item: TreeItem | null): Promise<void> {
    if (item ? item.dataset.state === 'loaded' : this.volumesListed) return Promise.resolve();
    return new Promise((resolve) => this.loadWaiters.set(item, [...(this.loadWaiters.get(item) ?? []), resolve]));
  }

  private find(volume: string, path: string): TreeItem | null {
    return this.tree.querySelector(`vscode-tree-item[data-volume="${CSS.escape(volume)}"][data-guest-path="${CSS.escape(path)}"]`);
  }

  /**
   * Opens the folders down to `path` of a volume, listing each as needed, then selects and shows the entry: the
   * hex inspector's "Show in Files".
   */
  async reveal(volume: string, path: string): Promise<void> {
    this.shown();
    await this.whenLoaded(null);
    let item = this.find(volume, '/');
    let at = '';
    for (const part of path.split('/').filter(Boolean)) {
      if (!item) return;
      item.open = true;
      await this.whenLoaded(item);
      at += `/${part}`;
      item = this.find(volume, at);
    }
    if (!item) return;
    if (this.filter.value) {
      this.filter.value = '';
      this.applyFilter();
    }
    for (const other of this.tree.querySelectorAll('vscode-tree-item[selected]')) (other as TreeItem).selected = false;
    item.selected = true;
    this.select(item);
    item.scrollIntoView({ block: 'center' });
    item.focus();
  }

  private isFile(item: TreeItem | undefined): boolean {
    return item?.dataset.type === 'file' || item?.dataset.type === 'symlink';
  }

  private select(item: TreeItem | undefined): void {
    this.selected = item?.dataset.guestPath ? item : undefined;
    const file = this.isFile(this.selected);
    for (const [action, b] of this.buttons) b.disabled = !(action === 'copyPath' ? this.selected : file);
  }

  private menuItems(): { label: string; value: string; keybinding?: string }[] {
    if (!this.selected) return [];
    const items = [{ label: t('Copy Path'), value: 'copyPath' }];
    if (!this.isFile(this.selected)) return items;
    return [
      { label: t('Open'), value: 'open', keybinding: 'Enter' },
      { label: t('Show in Hex'), value: 'hex' },
      { label: t('Show Extents on the Map'), value: 'extents' },
      ...items,
      { label: t('Save a Copy…'), value: 'saveCopy' },
    ];
  }

  private showMenu(x: number, y: number): void {
    const data = this.menuItems();
    if (!data.length) return;
    const box = this.el.getBoundingClientRect();
    this.menu.style.left = `${Math.max(0, x - box.left)}px`;
    this.menu.style.top = `${Math.max(0, y - box.top)}px`;
    this.menu.data = data;
    this.menu.show = true;
    requestAnimationFrame(() => this.menu.focus());
  }

  private run(action: GuestFileAction): void {
    const item = this.selected;
    if (!item || (action !== 'copyPath' && !this.isFile(item))) return;
    post({ type: 'fsAction', action, volume: item.dataset.volume!, path: item.dataset.guestPath! });
  }

  /** Hides loaded rows whose name does not contain the filter text, keeping the folders above a match. */
  private applyFilter(): void {
    const q = (this.filter.value ?? '').trim().toLowerCase();
    const visit = (item: TreeItem): boolean => {
      let keep = !q || (item.dataset.name ?? '').toLowerCase().includes(q);
      for (const c of item.children) if (c.tagName === 'VSCODE-TREE-ITEM' && (c as TreeItem).dataset.guestPath && visit(c as TreeItem)) keep = true;
      item.hidden = !keep && !item.hasAttribute('data-volume-root');
      return keep;
    };
    for (const c of this.tree.children) if ((c as TreeItem).dataset.guestPath) visit(c as TreeItem);
  }
}

function formatTime(ms: number): string {
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ');
}
