/**
 * The Find widget's guest-file scope: the scope list offers each volume that holds a readable file system
 * ("File in partition 2 (ext4)") and a "Guest file" entry, and while one is chosen a path field takes the file's
 * path, "/etc/hosts" or "2:/etc/hosts" as the CLI's `find --file` does. The search runs on the host over that file.
 */
import type { GuestVolumeInfo } from '../../src/shared/protocol';
import { MAX_GUEST_PATH } from '../../src/shared/protocol';
import { t } from '../l10n';
import type { Control } from './find-controls';
import { el } from './dom';

/** Scope-list values of this scope: FILE_ANY, or FILE_PREFIX + a volume key. */
export const FILE_ANY = 'file';
const FILE_PREFIX = 'f:';

/** The file to search in, or why the field's text does not name one. */
export type FileChoice = { volume: string; path: string } | { error: string };

/** `[N:]/path` in the field, with the volume the scope list chose (or the only readable one) when it has no `N:`. */
export function parseFileChoice(text: string, chosen: string | undefined, volumes: readonly GuestVolumeInfo[]): FileChoice {
  const m = /^([^/:]+):(\/.*)$/.exec(text.trim());
  const path = m ? m[2] : text.trim();
  let volume = m ? m[1] : chosen;
  if (!path) return { error: t('Type the path of a guest file, e.g. 2:/etc/hosts') };
  if (!path.startsWith('/') || path.includes('\0') || path.length > MAX_GUEST_PATH || path.split('/').some((c) => c === '.' || c === '..'))
    return { error: t('Not an absolute guest path: {0}', path.slice(0, 80)) };
  if (volume === undefined) {
    const readable = volumes.filter((v) => v.readable);
    if (readable.length !== 1) return { error: t('Name the partition as N:/path') };
    volume = readable[0].key;
  }
  if (!/^[A-Za-z0-9+_.-]{1,128}$/.test(volume)) return { error: t('No partition or logical volume {0}', volume.slice(0, 40)) };
  return { volume, path };
}

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
