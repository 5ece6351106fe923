/**
 * The Find widget's scope: the whole disk, from the cursor, one partition, or one guest file. For the last, the
 * list offers each volume that holds a readable file system ("File in partition 2 (ext4)") and a "Guest file"
 * entry, and while one is chosen a path field takes the file's path, "/etc/hosts" or "2:/etc/hosts" as the CLI's
 * `find --file` does. The search runs on the host over that file.
 */
import type { GuestVolumeInfo } from '../../src/shared/protocol';
import type { PartitionTable } from '../../src/shared/partitions';
import { t } from '../l10n';
import { select, setOptions, type Control } from './find-controls';
import { el } from './dom';
import { parseFileChoice, type FileChoice, type FindScope } from './find-model';

/** Scope-list values of this scope: FILE_ANY, or FILE_PREFIX + a volume key. */
export const FILE_ANY = 'file';
const FILE_PREFIX = 'f:';

export class FileScopeField {
  readonly el = el('div', 'hx-find-row hx-find-file');
  readonly input = document.createElement('vscode-textfield') as unknown as Control;
  private volumes: GuestVolumeInfo[] = [];

  constructor(onInput: () => void, onEnter: (shift: boolean) => void) {
    this.el.hidden = true;
    this.input.classList.add('hx-find-path');
    this.input.setAttribute('placeholder', t('Guest file, e.g. 2:/etc/hosts'));
    this.input.setAttribute('aria-label', t('Guest file to search in ([partition:]/path; Enter: next, Shift+Enter: previous)'));
    this.input.addEventListener('input', onInput);
    this.input.addEventListener('keydown', (e) => {
      if (e.key !== 'Enter') return;
      e.preventDefault();
      e.stopPropagation();
      onEnter(e.shiftKey);
    });
    this.el.append(this.input);
  }

  /** The scope-list entries: one per volume with a readable file system, then "Guest file". */
  options(): Array<[string, string]> {
    const out: Array<[string, string]> = this.volumes.filter((v) => v.readable).map((v) => [FILE_PREFIX + v.key, t('File in {0} ({1})', v.label, v.type)]);
    out.push([FILE_ANY, t('Guest file ([partition:]/path)')]);
    return out;
  }

  setVolumes(volumes: GuestVolumeInfo[]): void {
    this.volumes = volumes;
  }

  /** Whether a scope-list value is this scope. */
  static isFileScope(value: string): boolean {
    return value === FILE_ANY || value.startsWith(FILE_PREFIX);
  }

  /** Shows the path field while a file scope is chosen. */
  showFor(value: string): void {
    this.el.hidden = !FileScopeField.isFileScope(value);
  }

  /** The file the field and the scope-list value name. */
  choice(value: string): FileChoice {
    const chosen = value.startsWith(FILE_PREFIX) ? value.slice(FILE_PREFIX.length) : undefined;
    return parseFileChoice(this.input.value ?? '', chosen, this.volumes);
  }
}

/** The scope list with its partitions and file systems, and the path field under it. */
export class FindScopePicker {
  readonly list = select(t('Search in'), [
    ['disk', t('Whole disk')],
    ['cursor', t('From the cursor')],
  ]);
  readonly file: FileScopeField;
  private partitionOptions: Array<[string, string]> = [];
  private volumesAsked = false;

  constructor(
    private readonly volumes: () => Promise<GuestVolumeInfo[]>,
    onChange: () => void,
    onEnter: (shift: boolean) => void,
  ) {
    this.file = new FileScopeField(onChange, onEnter);
    this.list.addEventListener('change', () => {
      this.file.showFor(this.list.value);
      onChange();
    });
    this.refresh();
  }

  /** The partition list of the disk changed: offer each partition as a scope. */
  setPartitions(table: PartitionTable): void {
    this.partitionOptions = [];
    table.partitions.forEach((p, i) => {
      if (!p.extended) this.partitionOptions.push([`p${i}`, t('Partition {0}', p.name ? `${p.number} ${p.name}` : String(p.number))]);
    });
    this.refresh();
  }

  private refresh(): void {
    setOptions(this.list, [['disk', t('Whole disk')], ['cursor', t('From the cursor')], ...this.partitionOptions, ...this.file.options()]);
    this.file.showFor(this.list.value);
  }

  /** Asks the host once (again after `diskChanged`) which volumes hold a file system to search a file in. */
  load(): void {
    if (this.volumesAsked) return;
    this.volumesAsked = true;
    this.volumes().then(
      (v) => {
        this.file.setVolumes(v);
        this.refresh();
      },
      () => undefined, // no file systems to offer: the "Guest file" entry takes N:/path
    );
  }

  diskChanged(): void {
    this.volumesAsked = false;
  }

  scope(): FindScope {
    const s = this.list.value;
    if (FileScopeField.isFileScope(s)) return { kind: 'file', ...this.file.choice(s) };
    if (s.startsWith('p')) return { kind: 'partition', index: Number(s.slice(1)) };
    return s === 'cursor' ? { kind: 'cursor' } : { kind: 'disk' };
  }
}
